//! The whole loop with a forge, for each of GitHub, GitLab and Gitea (issue 15): a signed
//! pull request event starts a run of the pull request's head (a commit only its pull request
//! ref holds), the jobs whose `when:` rules match run and the others are skipped with the
//! reason, and the forge receives every context's statuses in order, each `target_url` a
//! working link to its job on the server.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use railyard_test_support::forge::{FakeForge, ForgeCall};
use serde_json::{Value, json};

use crate::fleet::*;
use crate::forge_events::{Forge, add_project, deliver, forge_only_commit, github_pr, gitlab_mr};
use crate::secrets::{key_file, set_secret, with_key};

const PIPELINE: &str = "env: { image: busybox }
jobs:
  check: { script: [echo checked], when: { event: [pull_request], branch: [main] } }
  deploy: { script: [echo deployed], when: { event: [push], branch: [main] } }
  after: { script: [echo after], needs: [check] }
";

const TOKEN: &str = "loop-forge-t0ken-5a6b7c8d";

const CONTEXTS: [&str; 4] = [
    "railyard",
    "railyard/after",
    "railyard/check",
    "railyard/deploy",
];

#[test]
fn a_github_pull_request_runs_its_rules_and_reports_back() {
    forge_loop(Forge::GitHub);
}

#[test]
fn a_gitlab_merge_request_runs_its_rules_and_reports_back() {
    forge_loop(Forge::GitLab);
}

#[test]
fn a_gitea_pull_request_runs_its_rules_and_reports_back() {
    forge_loop(Forge::Gitea);
}

/// The context a call sets (`context` on GitHub and Gitea, `name` on GitLab).
fn context(call: &ForgeCall) -> String {
    match call.field("context") {
        "" => call.field("name").to_owned(),
        c => c.to_owned(),
    }
}

/// Waits until every context got a final status; the calls the forge accepted, by context.
fn finals(fleet: &Fleet, forge: &FakeForge, gitlab: bool) -> BTreeMap<String, Vec<ForgeCall>> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut by: BTreeMap<String, Vec<ForgeCall>> = BTreeMap::new();
        for call in forge.calls().into_iter().filter(|c| !c.failed) {
            by.entry(context(&call)).or_default().push(call);
        }
        let final_state = |c: &ForgeCall| match c.field("state") {
            "pending" => false,
            "running" => !gitlab,
            _ => true,
        };
        if CONTEXTS.iter().all(|ctx| {
            by.get(*ctx)
                .is_some_and(|calls| calls.iter().any(final_state))
        }) {
            return by;
        }
        assert!(
            Instant::now() < deadline,
            "the forge never got every final status: {:#?}\n{}",
            forge.calls(),
            fleet.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn forge_loop(kind: Forge) {
    let forge = FakeForge::start();
    let mut fleet = Fleet::start(PIPELINE);
    let key = key_file(&fleet, "secrets.key", 7);
    with_key(&mut fleet, None, &key);
    add_project(&fleet);
    let (name, api, pr_ref, event) = match kind {
        Forge::GitHub => ("github", "", "refs/pull/7/head", "pull_request"),
        Forge::GitLab => (
            "gitlab",
            "/api/v4",
            "refs/merge-requests/7/head",
            "Merge Request Hook",
        ),
        Forge::Gitea => ("gitea", "/api/v1", "refs/pull/7/head", "pull_request"),
    };
    let api_url = format!("{}{api}", forge.url());
    let forge_settings = [
        "project",
        "set",
        "demo",
        "--forge",
        name,
        "--forge-api",
        &api_url,
    ];
    let mut args = forge_settings.to_vec();
    args.extend(["--forge-repo", "org/app"]);
    fleet.cli_ok(&args);
    set_secret(&fleet, "demo", "@forge", TOKEN, &[]);
    fleet.agent("a1");

    let head = forge_only_commit(&fleet, &[pr_ref]);
    let body = match kind {
        Forge::GitLab => gitlab_mr("open", 7, &head, None),
        Forge::GitHub => github_pr(
            "opened",
            7,
            &head,
            "feature",
            json!({"full_name": "org/app"}),
        ),
        Forge::Gitea => github_pr(
            "opened",
            7,
            &head,
            "feature",
            json!({"full_name": "org/app"}),
        ),
    };
    let (status, answer) = deliver(&fleet, kind, event, &body);
    assert_eq!(status, 201, "{answer}\n{}", fleet.diagnostics());
    let run = answer["run"]["id"].as_str().unwrap().to_owned();
    let detail = fleet.wait_success(&run, 180);
    let job = |n: &str| -> Value {
        (detail["jobs"].as_array().unwrap().iter())
            .find(|j| j["name"] == n)
            .cloned()
            .unwrap_or_else(|| panic!("no job {n}: {detail}"))
    };
    assert_eq!(detail["run"]["commit"], head.as_str(), "{detail}");
    assert_eq!(job("check")["status"], "success", "{detail}");
    assert_eq!(job("after")["status"], "success", "{detail}");
    assert_eq!(job("deploy")["status"], "skipped", "{detail}");
    let why = job("deploy")["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(why.contains("`when` wants event `push`"), "{why}");
    assert!(fleet.log(&run, "check").contains("checked"));

    let gitlab = matches!(kind, Forge::GitLab);
    let by = finals(&fleet, &forge, gitlab);
    let running = if gitlab { "running" } else { "pending" };
    let states = |ctx: &str| -> Vec<(String, String)> {
        (by[ctx].iter())
            .map(|c| {
                (
                    c.field("state").to_owned(),
                    c.field("description").to_owned(),
                )
            })
            .collect()
    };
    for ctx in ["railyard", "railyard/check", "railyard/after"] {
        let got = states(ctx);
        let states: Vec<&str> = got.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(states, ["pending", running, "success"], "{ctx}: {got:?}");
        assert_eq!(got[1].1, "running", "{ctx}: {got:?}");
    }
    // A job its rule left out: queued with the run, then at once a success saying why (a
    // skip never blocks a merge).
    let deploy = states("railyard/deploy");
    assert_eq!(deploy.len(), 2, "{deploy:?}");
    assert_eq!(deploy[0].0, "pending", "{deploy:?}");
    assert_eq!(deploy[1].0, "success", "{deploy:?}");
    let said = &deploy[1].1;
    assert!(
        said.starts_with("skipped: `when` wants event `push`"),
        "{said}"
    );

    let repo_path = if gitlab { "org%2Fapp" } else { "org/app" };
    let (repos, token_header, token) = match kind {
        Forge::GitLab => ("projects", "private-token", TOKEN.to_owned()),
        Forge::GitHub => ("repos", "authorization", format!("Bearer {TOKEN}")),
        Forge::Gitea => ("repos", "authorization", format!("token {TOKEN}")),
    };
    for call in forge.calls() {
        assert_eq!(
            call.path,
            format!("{api}/{repos}/{repo_path}/statuses/{head}"),
            "{call:?}"
        );
        assert_eq!(call.header(token_header), Some(token.as_str()), "{call:?}");
        // Each link leads to its job (or the run) on the server, for a viewer.
        let target = call.field("target_url");
        let path = target
            .strip_prefix(fleet.url.as_str())
            .unwrap_or_else(|| panic!("{target} is not on {}", fleet.url));
        let (status, body) = fleet.get(path);
        assert_eq!(status, 200, "{target}: {body}");
        match context(&call).strip_prefix("railyard/") {
            Some(job) => {
                assert_eq!(path, format!("/api/v1/runs/{run}/jobs/{job}"));
                let shown: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(shown["name"], job, "{body}");
            }
            None => assert_eq!(path, format!("/api/v1/runs/{run}")),
        }
    }
    drop(fleet);
    assert_nothing_left(&run);
}
