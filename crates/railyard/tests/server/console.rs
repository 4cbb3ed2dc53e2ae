//! What the server and an agent print while they work, by default (no `RAILYARD_LOG`): a
//! line per agent registered, job leased and ended, plain text when written to a file; and
//! an agent whose token was revoked says so and stops.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::fleet::*;

#[test]
fn the_server_and_an_agent_say_what_they_do_and_a_revoked_agent_says_why_it_stops() {
    let fleet = Fleet::start("env: { image: busybox }\njobs:\n  hello:\n    script: [echo hi]\n");
    let token = fleet.cli_ok(&["token", "create", "--role", "agent", "quiet-agent"]);
    let token = token.trim().to_string();
    let err = fleet.dir.path().join("quiet-agent.err");
    let mut agent = bin()
        .env_remove("RAILYARD_LOG")
        .args([
            "agent", "--server", &fleet.url, "--token", &token, "--name", "quiet",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let run = trigger(&fleet);
    fleet.wait_success(&run, 120);
    let said = std::fs::read_to_string(&err).unwrap();
    for line in ["registered", "job claimed", "job reported"] {
        assert!(
            said.contains(line),
            "no `{line}` in the agent's output:\n{said}"
        );
    }
    assert!(
        !said.contains('\x1b'),
        "colour escapes in a file:\n{said:?}"
    );

    fleet.cli_ok(&["token", "revoke", "quiet-agent"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = agent.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the agent went on with a revoked token"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let said = std::fs::read_to_string(&err).unwrap();
    assert_eq!(status.code(), Some(2), "{said}");
    assert!(
        said.contains("no longer accepts this agent's token"),
        "{said}"
    );
    assert_nothing_left(&run);
}

#[test]
fn the_server_logs_at_info_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.env_remove("RAILYARD_LOG")
        .args(["server", "--listen", "127.0.0.1:0", "--admin-token", ADMIN])
        .args(["--agent-token", AGENT])
        .env("RAILYARD_HOME", dir.path().join("data"))
        .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap());
    let (mut server, url) = start_printing_address(&mut cmd);
    let (status, _) = http(
        &url,
        "POST",
        "/api/v1/agents/register",
        Some(AGENT),
        r#"{"name": "probe", "slots": 1}"#,
    );
    assert_eq!(status, 200);
    server.kill().unwrap();
    server.wait().unwrap();
    let said = std::fs::read_to_string(dir.path().join("server.err")).unwrap();
    assert!(said.contains("agent registered"), "{said}");
    assert!(!said.contains('\x1b'), "{said:?}");
}
