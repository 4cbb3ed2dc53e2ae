//! Commit statuses back to the forge (issue 15): a real server and agent, a fake forge for
//! each of GitHub, GitLab and Gitea. Each context (`railyard`, `railyard/<job>`) gets its
//! states in order with the right address, commit, `target_url` and token header; a forge
//! that fails in the middle of a run still ends with every final status delivered exactly
//! once; the token shows nowhere; a project without a forge writes no outbox rows; hostile
//! settings are refused naming the field.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use railyard_test_support::forge::{Failure, FakeForge, ForgeCall};

use crate::fleet::*;
use crate::secrets::{key_file, set_secret, with_key};

/// Two jobs, one failing.
const PIPELINE: &str = "env: { image: busybox }\njobs:\n  ok:\n    script: [\"echo fine\"]\n  bad:\n    script: [\"exit 3\"]\n";

const TOKEN: &str = "forge-t0ken-9f8e7d6c5b4a-SECRET";

const CONTEXTS: [&str; 3] = ["railyard", "railyard/bad", "railyard/ok"];

/// A fleet whose project `demo` sends its statuses to `forge` as `kind` (API base at
/// `api_path` on the fake forge), with a key file, the token set and one agent.
fn forge_fleet(
    forge: &FakeForge,
    kind: &str,
    api_path: &str,
    repo: &str,
    db: Option<&str>,
) -> Fleet {
    let mut fleet = Fleet::start_on(PIPELINE, db);
    let key = key_file(&fleet, "secrets.key", 7);
    with_key(&mut fleet, db, &key);
    fleet.cli_ok(&["project", "add", "demo", "--repo", &fleet.repo_url()]);
    let api = format!("{}{api_path}", forge.url());
    fleet.cli_ok(&[
        "project",
        "set",
        "demo",
        "--forge",
        kind,
        "--forge-api",
        &api,
        "--forge-repo",
        repo,
    ]);
    set_secret(&fleet, "demo", "@forge", TOKEN, &[]);
    fleet.agent("a1");
    fleet
}

fn trigger_demo(fleet: &Fleet) -> (String, String) {
    let out = fleet.cli_ok(&["trigger", "demo", "--ref", "main", "--json"]);
    let t: serde_json::Value = serde_json::from_str(&out).unwrap();
    let run = t["run"]["id"].as_str().unwrap().to_string();
    let commit = t["run"]["commit"].as_str().unwrap().to_string();
    (run, commit)
}

/// The context a call sets (`context` on GitHub and Gitea, `name` on GitLab).
fn context(call: &ForgeCall) -> String {
    let c = call.field("context");
    if c.is_empty() {
        call.field("name").to_string()
    } else {
        c.to_string()
    }
}

fn is_final(kind: &str, call: &ForgeCall) -> bool {
    let state = call.field("state");
    match kind {
        "gitlab" => !matches!(state, "pending" | "running"),
        _ => state != "pending",
    }
}

/// Waits (condition-based, 90 s at most) until the forge accepted a final status of each
/// context; returns the accepted calls by context, in the order received.
fn wait_finals(fleet: &Fleet, forge: &FakeForge, kind: &str) -> BTreeMap<String, Vec<ForgeCall>> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mut by: BTreeMap<String, Vec<ForgeCall>> = BTreeMap::new();
        for call in forge.calls().into_iter().filter(|c| !c.failed) {
            by.entry(context(&call)).or_default().push(call);
        }
        let done = CONTEXTS.iter().all(|c| {
            by.get(*c)
                .is_some_and(|calls| calls.iter().any(|k| is_final(kind, k)))
        });
        if done {
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

/// (state, description) of each call.
fn states(calls: &[ForgeCall]) -> Vec<(String, String)> {
    calls
        .iter()
        .map(|c| {
            (
                c.field("state").to_string(),
                c.field("description").to_string(),
            )
        })
        .collect()
}

/// The whole story for one forge: order, addresses, token header, target URLs, and no token
/// in the server's log or API answers.
fn statuses_reach(kind: &str, api_path: &str, repo: &str, path_repo: &str, db: Option<&str>) {
    let forge = FakeForge::start();
    let fleet = forge_fleet(&forge, kind, api_path, repo, db);
    let (run, commit) = trigger_demo(&fleet);
    fleet.wait_ended_as(&run, 180, "failed");
    let by = wait_finals(&fleet, &forge, kind);

    let (running, failed, final_run) = match kind {
        "gitlab" => ("running", "failed", "failed"),
        _ => ("pending", "failure", "failure"),
    };
    for ctx in CONTEXTS {
        let got = states(&by[ctx]);
        let last = match ctx {
            "railyard/ok" => (String::from("success"), String::from("passed")),
            "railyard" => (final_run.to_string(), "failed".to_string()),
            _ => (failed.to_string(), got.last().unwrap().1.clone()),
        };
        assert_eq!(
            got,
            [
                ("pending".to_string(), "queued".to_string()),
                (running.to_string(), "running".to_string()),
                last
            ],
            "{kind} {ctx}: {:#?}",
            by[ctx]
        );
    }
    assert!(
        states(&by["railyard/bad"])[2].1.starts_with("failed"),
        "{:?}",
        states(&by["railyard/bad"])
    );

    let (path, header, value) = match kind {
        "gitlab" => (
            format!("{api_path}/projects/{path_repo}/statuses/{commit}"),
            "private-token",
            TOKEN.to_string(),
        ),
        "github" => (
            format!("{api_path}/repos/{path_repo}/statuses/{commit}"),
            "authorization",
            format!("Bearer {TOKEN}"),
        ),
        _ => (
            format!("{api_path}/repos/{path_repo}/statuses/{commit}"),
            "authorization",
            format!("token {TOKEN}"),
        ),
    };
    for call in forge.calls() {
        assert_eq!(call.method, "POST");
        assert_eq!(call.path, path, "{call:?}");
        assert_eq!(call.header(header), Some(value.as_str()), "{call:?}");
        let ctx = context(&call);
        let target = match ctx.strip_prefix("railyard/") {
            Some(job) => format!("{}/api/v1/runs/{run}/jobs/{job}", fleet.url),
            None => format!("{}/api/v1/runs/{run}", fleet.url),
        };
        assert_eq!(call.field("target_url"), target, "{call:?}");
    }

    // The token shows in no API answer and not in the server's log.
    for path in [
        "/api/v1/projects".to_string(),
        "/api/v1/projects/demo/secrets".to_string(),
        "/api/v1/projects/demo/statuses".to_string(),
        format!("/api/v1/runs/{run}"),
    ] {
        let (status, body) = fleet.get(&path);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(!body.contains(TOKEN), "{path} shows the token: {body}");
    }
    let log = std::fs::read_to_string(fleet.dir.path().join("server.err")).unwrap();
    assert!(!log.contains(TOKEN), "the server's log shows the token");
    let (_, listed) = fleet.get("/api/v1/projects/demo/statuses");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert_eq!(rows.len(), 9, "three states of three contexts: {listed}");
    assert!(rows.iter().all(|r| r["outcome"] == "delivered"), "{listed}");
    assert_nothing_left(&run);
}

#[test]
fn github_gets_each_contexts_statuses_in_order() {
    statuses_reach("github", "", "acme/app", "acme/app", None);
}

#[test]
fn gitlab_gets_each_contexts_statuses_in_order() {
    statuses_reach("gitlab", "/api/v4", "acme/app", "acme%2Fapp", None);
}

#[test]
fn gitea_gets_each_contexts_statuses_in_order() {
    statuses_reach("gitea", "/api/v1", "acme/app", "acme/app", None);
}

/// The forge fails from the first `running` status it is sent until it has failed at least
/// three sends, then recovers: every final status still arrives exactly once, and no state
/// of a context is accepted twice or out of order.
/// The forge fails from the first "running" status until it refused at least 3 sends and
/// `lasting` has passed since its first refusal (an outage of that long), then recovers.
fn outage_in_the_middle(
    kind: &str,
    api_path: &str,
    failure: Failure,
    db: Option<&str>,
    lasting: Duration,
) {
    let forge = FakeForge::start();
    forge.fail_from(|c| c.field("description") == "running", failure);
    let fleet = forge_fleet(&forge, kind, api_path, "acme/app", db);
    let (run, _) = trigger_demo(&fleet);
    let deadline = Instant::now() + Duration::from_secs(120) + lasting;
    let mut down_since = None;
    while forge.failed() < 3 || down_since.is_none_or(|t: Instant| t.elapsed() < lasting) {
        if down_since.is_none() && forge.failed() > 0 {
            down_since = Some(Instant::now());
        }
        assert!(
            Instant::now() < deadline,
            "the forge never failed three sends: {:#?}\n{}",
            forge.calls(),
            fleet.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    forge.fail(None);
    fleet.wait_ended_as(&run, 180, "failed");
    let by = wait_finals(&fleet, &forge, kind);
    for ctx in CONTEXTS {
        let got = states(&by[ctx]);
        assert_eq!(
            got.len(),
            3,
            "{ctx}: pending, running, final once each: {got:?}"
        );
        assert_eq!(got[0].1, "queued", "{ctx}: {got:?}");
        assert_eq!(got[1].1, "running", "{ctx}: {got:?}");
        assert!(is_final(kind, &by[ctx][2]), "{ctx}: {got:?}");
    }
    // Nothing more comes: a final status is never sent again after it was accepted.
    let accepted = forge.calls().iter().filter(|c| !c.failed).count();
    let (_, listed) = fleet.get("/api/v1/projects/demo/statuses");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&listed).unwrap();
    assert!(rows.iter().all(|r| r["outcome"] == "delivered"), "{listed}");
    assert!(
        rows.iter().any(|r| r["attempts"].as_i64().unwrap() > 1),
        "some row needed a retry: {listed}"
    );
    assert_eq!(accepted, 9, "{:#?}", forge.calls());
    assert_nothing_left(&run);
}

#[test]
fn github_outage_with_500s_loses_no_final_status_and_sends_none_twice() {
    // The issue's outage: half a minute of 500s, the run ending meanwhile.
    let half_a_minute = Duration::from_secs(30);
    outage_in_the_middle("github", "", Failure::Status(500), None, half_a_minute);
}

#[test]
fn gitea_outage_with_dropped_connections_loses_no_final_status() {
    outage_in_the_middle("gitea", "/api/v1", Failure::Drop, None, Duration::ZERO);
}

/// The same on PostgreSQL (the triggers' functions, the deliverers' `SKIP LOCKED` claim),
/// when `RAILYARD_TEST_POSTGRES_URL` is set.
#[test]
fn github_on_postgres_gets_each_contexts_statuses_in_order() {
    let Some(db) = PgDb::create() else {
        return;
    };
    statuses_reach("github", "", "acme/app", "acme/app", Some(&db.url));
}

#[test]
fn gitlab_outage_on_postgres_loses_no_final_status() {
    let Some(db) = PgDb::create() else {
        return;
    };
    let (api, failure) = ("/api/v4", Failure::Status(503));
    outage_in_the_middle("gitlab", api, failure, Some(&db.url), Duration::ZERO);
}

/// A project without a forge writes no outbox rows; hostile forge settings are refused with
/// 400 naming the field, and nothing is stored.
#[test]
fn no_forge_no_rows_and_hostile_settings_are_refused() {
    let forge = FakeForge::start();
    let mut fleet = Fleet::start(PIPELINE);
    let key = key_file(&fleet, "secrets.key", 7);
    with_key(&mut fleet, None, &key);
    fleet.cli_ok(&["project", "add", "demo", "--repo", &fleet.repo_url()]);
    for (forge_json, field) in [
        (
            r#"{"kind": "bitbucket", "api_url": "https://x", "repo": "a/b"}"#,
            "forge.kind",
        ),
        (
            r#"{"kind": "github", "api_url": "file:///etc", "repo": "a/b"}"#,
            "forge.api_url",
        ),
        (
            r#"{"kind": "github", "api_url": "https://t:x@h", "repo": "a/b"}"#,
            "forge.api_url",
        ),
        (
            r#"{"kind": "github", "api_url": "https://h", "repo": "a/../b"}"#,
            "forge.repo",
        ),
        (
            r#"{"kind": "gitea", "api_url": "https://h", "repo": "a b/c"}"#,
            "forge.repo",
        ),
        (
            r#"{"kind": "gitlab", "api_url": "https://h", "repo": "g/.."}"#,
            "forge.repo",
        ),
    ] {
        let body = format!(r#"{{"forge": {forge_json}}}"#);
        let (status, answer) = http(
            &fleet.url,
            "PATCH",
            "/api/v1/projects/demo",
            Some(ADMIN),
            &body,
        );
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer.contains(field), "{body}: {answer}");
    }
    set_secret(&fleet, "demo", "@forge", TOKEN, &[]);
    fleet.agent("a1");
    let (run, _) = trigger_demo(&fleet);
    fleet.wait_ended_as(&run, 180, "failed");
    let (status, listed) = fleet.get("/api/v1/projects/demo/statuses");
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed.trim(), "[]", "no forge, no rows");
    assert!(forge.calls().is_empty());
    assert_nothing_left(&run);
}
