//! The remote CLI against a real server and agent: stored tokens (created, used, revoked),
//! `runs`, `logs --follow`, `cancel`, `agents`, and the queue-wait histogram moving.

use std::process::Stdio;

use crate::fleet::*;

const PIPELINE: &str = "env: { image: busybox }\njobs:\n  first:\n    script:\n      - echo start\n      - sleep 1\n      - echo done\n  second:\n    needs: [first]\n    script: [echo second]\n";

fn wait_count(fleet: &Fleet) -> Option<u64> {
    let (_, metrics) = http(&fleet.url, "GET", "/metrics", None, "");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix("railyard_queue_wait_seconds_count{project=\"demo\"} "))
        .map(|n| n.parse().unwrap())
}

#[test]
fn the_remote_cli_with_stored_tokens() {
    remote_cli(Fleet::start(PIPELINE));
}

/// The same on PostgreSQL, when `RAILYARD_TEST_POSTGRES_URL` is set.
#[test]
fn the_remote_cli_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    remote_cli(Fleet::start_on(PIPELINE, Some(&db.url)));
}

fn remote_cli(mut fleet: Fleet) {
    // A stored agent token, shown once; the agent works with it alone.
    let agent_token = fleet.cli_ok(&["token", "create", "--role", "agent", "runner-1"]);
    let agent_token = agent_token.trim().to_string();
    assert!(agent_token.starts_with("ry_"), "{agent_token}");
    let admin_token = fleet.cli_ok(&["token", "create", "--role", "admin", "ops"]);
    let admin_token = admin_token.trim().to_string();
    let child = bin()
        .args(["agent", "--server", &fleet.url, "--token", &agent_token])
        .args(["--name", "stored-token-agent"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(fleet.dir.path().join("agent.err")).unwrap())
        .spawn()
        .unwrap();
    fleet.agents.push(child);
    assert_eq!(wait_count(&fleet), None, "no job waited yet");

    let run = trigger(&fleet);
    // Followed live: every line, and the exit code is the job's status.
    let follow = output_within(fleet.cli(&["logs", &run, "first", "--follow"]), 120);
    assert!(follow.status.success(), "{}", text(&follow.stderr));
    let lines: Vec<String> = text(&follow.stdout).lines().map(str::to_owned).collect();
    assert!(lines.contains(&"start".to_string()), "{lines:?}");
    assert!(lines.contains(&"done".to_string()), "{lines:?}");
    let detail = fleet.wait_run(&run, 120);
    assert_eq!(detail["run"]["status"], "success", "{detail}");
    assert_eq!(wait_count(&fleet), Some(2), "both jobs were claimed");

    let runs = fleet.cli_ok(&["runs", "--json"]);
    assert!(runs.contains(&run), "{runs}");
    let log = fleet.cli_ok(&["logs", &run, "second"]);
    assert_eq!(log.lines().filter(|l| *l == "second").count(), 1, "{log}");
    // An unknown run is bad input (exit 2), named with the server's answer.
    let unknown = output_within(fleet.cli(&["runs", "no-such-run"]), 30);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
    assert!(
        text(&unknown.stderr).contains("404") && text(&unknown.stderr).contains("no-such-run"),
        "{}",
        text(&unknown.stderr)
    );
    let other = fleet.cli_ok(&["runs", "--project", "other", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&other).unwrap(),
        serde_json::json!([])
    );
    // Following needs a server and one job: each mistake is named.
    let mut local = bin();
    local.args(["logs", &run, "first", "--follow"]);
    let out = output_within(local, 30);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("set RAILYARD_SERVER"),
        "{}",
        text(&out.stderr)
    );
    let out = output_within(fleet.cli(&["logs", &run, "--follow"]), 30);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("follows one job"),
        "{}",
        text(&out.stderr)
    );
    let agents = fleet.cli_ok(&["agents", "--json"]);
    assert!(agents.contains("stored-token-agent"), "{agents}");

    // A second run cancelled before its second job starts ends cancelled; once more is 409.
    let out = fleet.cli_ok(&["trigger", "demo", "--json"]);
    let triggered: serde_json::Value = serde_json::from_str(&out).unwrap();
    let second_run = triggered["run"]["id"].as_str().unwrap().to_string();
    fleet.cli_ok(&["cancel", &second_run]);
    let detail = fleet.wait_run(&second_run, 60);
    assert_eq!(detail["run"]["status"], "cancelled", "{detail}");
    // Following a job that ended cancelled exits as cancelled (130).
    let follow = output_within(fleet.cli(&["logs", &second_run, "second", "--follow"]), 60);
    assert_eq!(follow.status.code(), Some(130), "{}", text(&follow.stderr));
    // Cancelling an ended run is refused (exit 1, as documented); an unknown run is bad input.
    let again = output_within(fleet.cli(&["cancel", &second_run]), 30);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("409"),
        "{}",
        text(&again.stderr)
    );
    let unknown = output_within(fleet.cli(&["cancel", "no-such-run"]), 30);
    assert_eq!(unknown.status.code(), Some(2), "{}", text(&unknown.stderr));
    assert!(
        text(&unknown.stderr).contains("railyard runs"),
        "{}",
        text(&unknown.stderr)
    );

    // Revoked tokens get 401 on the next request; the list never shows a token.
    assert_eq!(
        http(&fleet.url, "GET", "/api/v1/runs", Some(&admin_token), "").0,
        200
    );
    fleet.cli_ok(&["token", "revoke", "ops"]);
    fleet.cli_ok(&["token", "revoke", "runner-1"]);
    assert_eq!(
        http(&fleet.url, "GET", "/api/v1/runs", Some(&admin_token), "").0,
        401
    );
    let register = r#"{"name": "late", "slots": 1}"#;
    let (status, _) = http(
        &fleet.url,
        "POST",
        "/api/v1/agents/register",
        Some(&agent_token),
        register,
    );
    assert_eq!(status, 401);
    let list = fleet.cli_ok(&["token", "list", "--json"]);
    assert!(
        !list.contains(&agent_token) && list.contains("runner-1"),
        "{list}"
    );
    let tokens: serde_json::Value = serde_json::from_str(&list).unwrap();
    assert!(
        tokens
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !t["revoked_at"].is_null())
    );
    // A bad role or a taken name is refused by name, and nothing is stored.
    let out = output_within(
        fleet.cli(&["token", "create", "--role", "agent", "ops"]),
        30,
    );
    assert!(
        text(&out.stderr).contains("`ops` exists"),
        "{}",
        text(&out.stderr)
    );
    let (status, body) = http(
        &fleet.url,
        "POST",
        "/api/v1/tokens",
        Some(ADMIN),
        r#"{"name":"x","role":"root"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("role `root`"), "{body}");
    assert_eq!(fleet.cli_ok(&["token", "list", "--json"]), list);
    assert_nothing_left(&run);
    assert_nothing_left(&second_run);
}
