//! What the server and an agent print while they work, by default (no `RAILYARD_LOG`): a
//! line per agent registered, job leased and ended, plain text when written to a file or a
//! pipe (coloured only on a terminal, and not even there under `NO_COLOR`); and an agent
//! whose token was revoked says so and stops.

use std::io::BufRead;
use std::process::{Command, Stdio};
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
        .env_remove("NO_COLOR")
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
        .env_remove("NO_COLOR")
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

/// An agent pointed at a closed port: it warns at once and goes on retrying.
fn agent_without_server() -> Command {
    let mut cmd = bin();
    cmd.env_remove("RAILYARD_LOG").env_remove("NO_COLOR").args([
        "agent",
        "--server",
        "http://127.0.0.1:1",
        "--token",
        AGENT,
        "--name",
        "lonely",
    ]);
    cmd
}

#[test]
fn an_agent_logging_into_a_pipe_writes_no_colour_escapes() {
    let mut agent = agent_without_server()
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(agent.stderr.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let second = lines.next().unwrap().unwrap();
    agent.kill().unwrap();
    agent.wait().unwrap();
    assert!(first.contains("WARN registering"), "{first:?}");
    for line in [first, second] {
        assert!(!line.contains('\x1b'), "colour escapes in a pipe: {line:?}");
    }
}

/// The agent's stderr on a pseudo-terminal (util-linux's `script`) for two seconds.
fn agent_on_terminal(no_color: Option<&str>) -> String {
    let cmd = agent_without_server();
    let quoted: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect();
    let line = format!("timeout 2 {} >/dev/null", quoted.join(" "));
    let mut script = Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .stdin(Stdio::null());
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            script.env(key, value);
        }
    }
    if let Some(value) = no_color {
        script.env("NO_COLOR", value);
    }
    text(&output_within(script, 60).stdout)
}

#[test]
fn an_agent_on_a_terminal_is_coloured_unless_no_color_is_set() {
    let coloured = agent_on_terminal(None);
    assert!(coloured.contains("registering"), "{coloured:?}");
    assert!(
        coloured.contains('\x1b'),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = agent_on_terminal(Some("1"));
    assert!(plain.contains("registering"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "colour under NO_COLOR: {plain:?}");
}
