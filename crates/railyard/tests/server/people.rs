//! A team on a real server through the CLI: an admin adds people and gives them roles, they
//! sign in with `railyard login` and work with their own token (from a file), each only as
//! far as their role goes, and `railyard audit` says who did what.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::fleet::*;

/// Runs `cmd` with `stdin` piped in; its output (120 s at most).
pub(crate) fn with_stdin(mut cmd: Command, stdin: &str) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The CLI as a person whose token is in `token_file` (no admin token anywhere).
pub(crate) fn as_person(fleet: &Fleet, token_file: &Path, args: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.args(args)
        .env("RAILYARD_SERVER", &fleet.url)
        .env("RAILYARD_TOKEN_FILE", token_file);
    output_within(cmd, 120)
}

/// Adds `name` with a password, gives them `role` in `demo`, signs them in: their token file.
pub(crate) fn member(fleet: &Fleet, name: &str, role: &str) -> std::path::PathBuf {
    member_of(fleet, name, "demo", role)
}

/// [`member`] of `project`.
pub(crate) fn member_of(
    fleet: &Fleet,
    name: &str,
    project: &str,
    role: &str,
) -> std::path::PathBuf {
    let password = format!("{name} has a long passphrase");
    let out = with_stdin(fleet.cli(&["user", "add", name, "--password"]), &password);
    assert!(out.status.success(), "{}", text(&out.stderr));
    fleet.cli_ok(&["member", "set", project, name, role]);
    let mut login = bin();
    login
        .args(["login", "--server", &fleet.url, "--user", name])
        .env_remove("RAILYARD_TOKEN");
    let out = with_stdin(login, &format!("{password}\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_owned();
    assert!(token.starts_with("ry_"), "{token}");
    assert!(
        !text(&out.stderr).contains(&token),
        "the token is printed once, on stdout"
    );
    let file = fleet.dir.path().join(format!("{name}.token"));
    std::fs::write(&file, format!("{token}\n")).unwrap();
    file
}

#[test]
fn a_team_signs_in_and_works_within_its_roles() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  hello:\n    script: [echo hello from a developer]\n",
    );
    fleet.agent("a1");
    fleet.cli_ok(&["project", "add", "demo", "--repo", &fleet.repo_url()]);
    let alice = member(&fleet, "alice", "developer");
    let vic = member(&fleet, "vic", "viewer");

    let out = as_person(&fleet, &alice, &["me"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let me = text(&out.stdout);
    assert!(
        me.contains("user:alice") && me.contains("developer of demo"),
        "{me}"
    );

    // The developer triggers; the job runs on the agent.
    let out = as_person(
        &fleet,
        &alice,
        &["trigger", "demo", "--ref", "main", "--json"],
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        fleet.diagnostics()
    );
    let triggered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let run = triggered["run"]["id"].as_str().unwrap().to_owned();
    fleet.wait_success(&run, 120);
    assert!(fleet.log(&run, "hello").contains("hello from a developer"));

    // The viewer reads the run but may not start one: the error says what it needs.
    let out = as_person(&fleet, &vic, &["runs", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&run));
    let out = as_person(&fleet, &vic, &["trigger", "demo", "--ref", "main"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("403") && err.contains("needs the developer role"),
        "{err}"
    );
    // Nor give herself more.
    let out = as_person(
        &fleet,
        &vic,
        &["member", "set", "demo", "vic", "maintainer"],
    );
    assert!(!out.status.success());

    // The admin's trail names the developer's trigger and the roles given.
    let audit = fleet.cli_ok(&["audit", "--json"]);
    let entries: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let has = |actor: &str, action: &str| {
        entries
            .iter()
            .any(|e| e["actor"] == actor && e["action"] == action && e["project"] == "demo")
    };
    assert!(has("user:alice", "run.trigger"), "{audit}");
    assert!(has("admin", "role.set"), "{audit}");
    assert!(!has("user:vic", "run.trigger"), "{audit}");
    drop(fleet);
    assert_nothing_left(&run);
}
