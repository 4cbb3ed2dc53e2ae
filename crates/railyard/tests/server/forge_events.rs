//! Forge events on a real server and agent (issue 15): a signed pull request event from each
//! of GitHub, GitLab and Gitea (bodies shaped like the forges' documented payloads) runs the
//! pull request's head commit, reachable only from the forge's PR ref, and its job sees the
//! run's context; a tag push is a tag run; closed and labeled start nothing; hostile bodies
//! are a 400 naming the field; `railyard runs` shows event, ref, PR and who started it;
//! `cancel_superseded` cancels the older run of the same branch or PR only; a fork's pull
//! request from a branch named `main` never gets a protected secret.

use railyard_test_support::http::request;
use serde_json::{Value, json};

use crate::auth::hmac_hex;
use crate::fleet::*;

pub(crate) const SECRET: &str = "forge-secret";

/// Prints the run's context on one line.
const PIPELINE: &str = "env: { image: busybox }\njobs:\n  show:\n    script: ['echo \"ctx event=$RAILYARD_EVENT ref=${RAILYARD_REF-} branch=${RAILYARD_BRANCH-} tag=${RAILYARD_TAG-} pr=${RAILYARD_PR-} src=${RAILYARD_PR_SOURCE_BRANCH-} dst=${RAILYARD_PR_TARGET_BRANCH-} fork=${RAILYARD_PR_FROM_FORK-} commit=$RAILYARD_COMMIT run=$RAILYARD_RUN url=${RAILYARD_RUN_URL-}\"']\n";

#[derive(Clone, Copy, Debug)]
pub(crate) enum Forge {
    GitHub,
    GitLab,
    Gitea,
}

/// A delivery of `event` signed as the forge signs it; (status, body).
pub(crate) fn deliver(fleet: &Fleet, forge: Forge, event: &str, body: &Value) -> (u16, Value) {
    let body = body.to_string();
    let sig = hmac_hex(SECRET, &body);
    let github_sig = format!("sha256={sig}");
    let id = format!("{:?}-{}", forge, ulid_like(&body));
    let headers: Vec<(&str, &str)> = match forge {
        Forge::GitHub => vec![
            ("X-GitHub-Event", event),
            ("X-Hub-Signature-256", &github_sig),
            ("X-GitHub-Delivery", &id),
        ],
        Forge::Gitea => vec![
            // Gitea sends GitHub's headers too.
            ("X-GitHub-Event", event),
            ("X-Gitea-Event", event),
            ("X-Gitea-Signature", &sig),
            ("X-Gitea-Delivery", &id),
        ],
        Forge::GitLab => vec![
            ("X-Gitlab-Event", event),
            ("X-Gitlab-Token", SECRET),
            ("X-Gitlab-Event-UUID", &id),
        ],
    };
    let mut headers = headers;
    headers.push(("Content-Type", "application/json"));
    let reply = request(
        &fleet.url,
        "POST",
        "/api/v1/projects/demo/webhook",
        &headers,
        body,
    );
    let answer = serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body.clone()));
    (reply.status, answer)
}

/// A delivery id from the body's hash (each body once).
fn ulid_like(body: &str) -> String {
    hmac_hex("id", body)[..24].to_owned()
}

/// GitHub's `pull_request` payload (Gitea's has the same fields).
pub(crate) fn github_pr(
    action: &str,
    number: u64,
    head: &str,
    source: &str,
    head_repo: Value,
) -> Value {
    json!({
        "action": action,
        "number": number,
        "pull_request": {
            "url": format!("https://api.github.com/repos/org/app/pulls/{number}"),
            "id": 1, "number": number, "state": "open", "title": "A change",
            "user": { "login": "someone" },
            "head": { "label": format!("someone:{source}"), "ref": source, "sha": head, "repo": head_repo },
            "base": { "label": "org:main", "ref": "main", "sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
                      "repo": { "id": 1296269, "full_name": "org/app" } },
        },
        "repository": { "id": 1296269, "full_name": "org/app" },
        "sender": { "login": "someone" },
    })
}

/// GitLab's `Merge Request Hook` payload.
pub(crate) fn gitlab_mr(action: &str, iid: u64, head: &str, oldrev: Option<&str>) -> Value {
    let mut attrs = json!({
        "id": 99, "iid": iid, "action": action, "state": "opened", "title": "A change",
        "source_branch": "feature", "target_branch": "main",
        "source_project_id": 14, "target_project_id": 14,
        "last_commit": { "id": head, "message": "change" },
        "url": format!("https://gitlab.example.com/org/app/-/merge_requests/{iid}"),
    });
    if let Some(old) = oldrev {
        attrs["oldrev"] = json!(old);
    }
    json!({
        "object_kind": "merge_request", "event_type": "merge_request",
        "user": { "username": "someone" }, "project": { "id": 14, "path_with_namespace": "org/app" },
        "object_attributes": attrs,
    })
}

/// A commit on no branch of the repository, kept only under `refs` (a pull request's head
/// from a fork): its id.
pub(crate) fn forge_only_commit(fleet: &Fleet, refs: &[&str]) -> String {
    let work = fleet.dir.path().join("work");
    git(&work, &["checkout", "-q", "--detach"]);
    git(
        &work,
        &["commit", "-q", "--allow-empty", "-m", "from a fork"],
    );
    let head = rev(fleet, "HEAD");
    for r in refs {
        git(&work, &["push", "-q", "../repo.git", &format!("HEAD:{r}")]);
    }
    git(&work, &["checkout", "-q", "main"]);
    head
}

fn rev(fleet: &Fleet, what: &str) -> String {
    let out = std::process::Command::new("git")
        .args(["rev-parse", what])
        .current_dir(fleet.dir.path().join("work"))
        .output()
        .unwrap();
    text(&out.stdout).trim().to_owned()
}

pub(crate) fn add_project(fleet: &Fleet) {
    fleet.cli_ok(&[
        "project",
        "add",
        "demo",
        "--repo",
        &fleet.repo_url(),
        "--webhook-secret",
        SECRET,
    ]);
}

/// The run a delivery started: waits for its success, returns its detail and the job's
/// context line.
fn ran(fleet: &Fleet, status: u16, answer: &Value) -> (Value, String) {
    assert_eq!(status, 201, "{answer}\n{}", fleet.diagnostics());
    let run = answer["run"]["id"].as_str().unwrap();
    let detail = fleet.wait_success(run, 180);
    let log = fleet.log(run, "show");
    let line = log
        .lines()
        .find(|l| l.starts_with("ctx "))
        .unwrap_or_else(|| panic!("{log}"));
    (detail, line.to_owned())
}

fn run_count(fleet: &Fleet) -> usize {
    let (_, body) = fleet.get("/api/v1/runs?project=demo&limit=100");
    serde_json::from_str::<Vec<Value>>(&body).unwrap().len()
}

#[test]
fn pull_requests_of_each_forge_run_their_head_with_its_context() {
    let mut fleet = Fleet::start(PIPELINE);
    add_project(&fleet);
    let head = forge_only_commit(&fleet, &["refs/pull/7/head", "refs/merge-requests/3/head"]);
    // A whole fetch (depth 0) takes branches and tags: the PR ref must be asked for by name.
    fleet.agent_with("a", &["--clone-depth", "0"]);

    let same = json!({ "full_name": "org/app" });
    let fork = json!({ "full_name": "someone/app" });
    let cases = [
        (
            Forge::GitHub,
            "pull_request",
            github_pr("opened", 7, &head, "feature", fork),
            "refs/pull/7/head",
            "7",
            "true",
        ),
        (
            Forge::Gitea,
            "pull_request",
            github_pr("synchronized", 7, &head, "feature", same),
            "refs/pull/7/head",
            "7",
            "false",
        ),
        (
            Forge::GitLab,
            "Merge Request Hook",
            gitlab_mr("update", 3, &head, Some(&head)),
            "refs/merge-requests/3/head",
            "3",
            "false",
        ),
    ];
    for (forge, event, body, pr_ref, number, from_fork) in cases {
        let (status, answer) = deliver(&fleet, forge, event, &body);
        let (detail, line) = ran(&fleet, status, &answer);
        let run = detail["run"]["id"].as_str().unwrap();
        let expected = format!(
            "ctx event=pull_request ref={pr_ref} branch=main tag= pr={number} src=feature \
             dst=main fork={from_fork} commit={head} run={run} url={}/api/v1/runs/{run}",
            fleet.url
        );
        assert_eq!(line, expected, "{forge:?}");
        assert_eq!(detail["run"]["event"], "pull_request", "{detail}");
        assert_eq!(detail["run"]["ref"], pr_ref);
        assert_eq!(detail["run"]["commit"], head.as_str());
        assert_eq!(detail["run"]["pull_request"]["number"].to_string(), number);
        let by = format!("webhook:{}", format!("{forge:?}").to_lowercase());
        assert_eq!(detail["run"]["started_by"], by.as_str());
    }

    // A tag push (GitHub's push of refs/tags/*, GitLab's Tag Push Hook) is a tag run.
    let main = rev(&fleet, "main");
    let tag = json!({ "ref": "refs/tags/v1.0", "before": "0".repeat(40), "after": main, "checkout_sha": main });
    for (forge, event) in [(Forge::GitHub, "push"), (Forge::GitLab, "Tag Push Hook")] {
        let (status, answer) = deliver(&fleet, forge, event, &tag);
        let (detail, line) = ran(&fleet, status, &answer);
        assert!(
            line.starts_with("ctx event=tag ref=refs/tags/v1.0 branch= tag=v1.0 pr= "),
            "{line}"
        );
        assert_eq!(detail["run"]["event"], "tag");
    }

    // Closed, labeled, a title edit: 200, why, and no run.
    let before = run_count(&fleet);
    let same = json!({ "full_name": "org/app" });
    for (forge, event, body) in [
        (
            Forge::GitHub,
            "pull_request",
            github_pr("closed", 7, &head, "feature", same.clone()),
        ),
        (
            Forge::Gitea,
            "pull_request",
            github_pr("labeled", 7, &head, "feature", same.clone()),
        ),
        (
            Forge::GitLab,
            "Merge Request Hook",
            gitlab_mr("update", 3, &head, None),
        ),
        (
            Forge::GitLab,
            "Merge Request Hook",
            gitlab_mr("close", 3, &head, None),
        ),
    ] {
        let (status, answer) = deliver(&fleet, forge, event, &body);
        assert_eq!(status, 200, "{answer}");
        assert!(answer["run"].is_null(), "{answer}");
        assert!(
            answer["ignored"]
                .as_str()
                .unwrap()
                .contains("starts no run"),
            "{answer}"
        );
    }
    // Hostile bodies, signed: a 400 naming the field, nothing started.
    let mut bad_sha = github_pr("opened", 7, "not-a-commit", "feature", same.clone());
    let (status, answer) = deliver(&fleet, Forge::GitHub, "pull_request", &bad_sha);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer.to_string().contains("`pull_request.head.sha`"),
        "{answer}"
    );
    bad_sha["number"] = json!("seven");
    let (status, answer) = deliver(&fleet, Forge::Gitea, "pull_request", &bad_sha);
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("`number`"), "{answer}");
    let mut no_branch = gitlab_mr("open", 3, &head, None);
    no_branch["object_attributes"]["source_branch"] = json!("a b");
    let (status, answer) = deliver(&fleet, Forge::GitLab, "Merge Request Hook", &no_branch);
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer
            .to_string()
            .contains("`object_attributes.source_branch`"),
        "{answer}"
    );
    assert_eq!(run_count(&fleet), before);

    // `railyard runs`: event, ref or PR, who started it; the detail says it whole.
    let listed = fleet.cli_ok(&["runs", "--project", "demo"]);
    for needed in [
        "pull_request",
        "#7 feature → main (fork)",
        "#3 feature → main",
        "webhook:gitlab",
        "tag",
        "v1.0",
    ] {
        assert!(listed.contains(needed), "{needed}: {listed}");
    }
    let shown = fleet.cli_ok(&["runs", "1"]);
    assert!(
        shown.contains(
            "pull_request #7 feature → main (fork), refs/pull/7/head, started by webhook:github"
        ),
        "{shown}"
    );
}

/// Pushes of main and of another branch and two pull requests, with no agent (every run stays
/// queued): with `cancel_superseded`, the newer push of main cancels the older one only, the
/// newer event of PR 7 the older one only.
#[test]
fn cancel_superseded_cancels_the_older_run_of_the_same_branch_or_pr_only() {
    let fleet = Fleet::start(PIPELINE);
    add_project(&fleet);
    let head = forge_only_commit(&fleet, &["refs/pull/7/head", "refs/pull/8/head"]);
    let main = rev(&fleet, "main");
    let push = |branch: &str| {
        let body = json!({ "ref": format!("refs/heads/{branch}"), "after": main, "n": ulid_like(&format!("{branch}{}", run_count(&fleet))) });
        let (status, answer) = deliver(&fleet, Forge::GitHub, "push", &body);
        assert_eq!(status, 201, "{answer}");
        answer["run"]["id"].as_str().unwrap().to_owned()
    };
    let status = |run: &str| {
        let (_, body) = fleet.get(&format!("/api/v1/runs/{run}"));
        serde_json::from_str::<Value>(&body).unwrap()["run"]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // Off by default: a second push of main leaves the first.
    let first = push("main");
    let second = push("main");
    assert_eq!(status(&first), "queued");

    let out = fleet.cli_ok(&["project", "set", "demo", "--cancel-superseded", "true"]);
    assert!(out.contains("cancels its older unfinished runs"), "{out}");
    let other = push("other");
    let triggered: Value =
        serde_json::from_str(&fleet.cli_ok(&["trigger", "demo", "--ref", "main", "--json"]))
            .unwrap();
    let trigger = triggered["run"]["id"].as_str().unwrap().to_owned();
    let third = push("main");
    for (run, expected) in [
        (&first, "cancelled"),
        (&second, "cancelled"),
        (&other, "queued"),
        (&trigger, "queued"),
        (&third, "queued"),
    ] {
        assert_eq!(status(run), expected, "{run}");
    }
    let pr = |number: u64, action: &str| {
        let body = github_pr(
            action,
            number,
            &head,
            "feature",
            json!({ "full_name": "org/app" }),
        );
        let (status, answer) = deliver(&fleet, Forge::GitHub, "pull_request", &body);
        assert_eq!(status, 201, "{answer}");
        answer["run"]["id"].as_str().unwrap().to_owned()
    };
    let (pr7, pr8) = (pr(7, "opened"), pr(8, "opened"));
    let pr7_again = pr(7, "synchronize");
    for (run, expected) in [
        (&pr7, "cancelled"),
        (&pr8, "queued"),
        (&pr7_again, "queued"),
        (&third, "queued"),
    ] {
        assert_eq!(status(run), expected, "{run}");
    }
    // The audit trail says why.
    let audit = fleet.cli_ok(&["audit", "--project", "demo", "--json"]);
    assert!(audit.contains("superseded by #"), "{audit}");
}

/// A fork's pull request whose source branch is named `main` never gets a secret limited to
/// `main`: its job fails naming the secret; a push of main gets it.
#[test]
fn a_forks_pull_request_from_its_main_never_gets_a_protected_secret() {
    let pipeline = "env: { image: busybox }\nsecrets: [DEPLOY_KEY]\njobs:\n  show:\n    script: ['echo \"ctx has=${#DEPLOY_KEY}\"']\n";
    let mut fleet = Fleet::start(pipeline);
    let key = crate::secrets::key_file(&fleet, "secrets.key", 7);
    crate::secrets::with_key(&mut fleet, None, &key);
    add_project(&fleet);
    crate::secrets::set_secret(
        &fleet,
        "demo",
        "DEPLOY_KEY",
        "protected-value",
        &["--protected-refs", "main"],
    );
    let head = forge_only_commit(&fleet, &["refs/pull/9/head"]);
    fleet.agent("a");
    let body = github_pr(
        "opened",
        9,
        &head,
        "main",
        json!({ "full_name": "someone/app" }),
    );
    let (status, answer) = deliver(&fleet, Forge::GitHub, "pull_request", &body);
    assert_eq!(status, 201, "{answer}");
    let run = answer["run"]["id"].as_str().unwrap();
    let detail = fleet.wait_ended_as(run, 180, "failed");
    let error = detail["jobs"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("`DEPLOY_KEY`") && error.contains("pull request"),
        "{detail}"
    );
    let main = rev(&fleet, "main");
    let push = json!({ "ref": "refs/heads/main", "after": main });
    let (status, answer) = deliver(&fleet, Forge::GitHub, "push", &push);
    let (_, line) = ran(&fleet, status, &answer);
    assert_eq!(line, "ctx has=15");
}
