//! The server's lists as a person reads them on a terminal 100 columns wide: tables like the
//! CLI's other lists (`token list` and `project list` printed tab-separated lines, and
//! `trigger --wait` its jobs so).

use crate::fleet::*;
use std::process::Command;

const PIPELINE: &str = "env: { image: busybox }\njobs:\n  hello:\n    script: [echo hello]\n";

/// `cmd` with stdout on a terminal `columns` wide (a pseudo-terminal from util-linux's
/// `script`) and stderr dropped; its output, lines ending in `\n`.
fn on_terminal(cmd: &Command, columns: u16) -> String {
    let quote = |a: &std::ffi::OsStr| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''"));
    let quoted: Vec<String> = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(quote)
        .collect();
    let line = format!(
        "stty cols {columns} rows 50; exec {} 2>/dev/null",
        quoted.join(" ")
    );
    let mut script = Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .env_clear()
        .stdin(std::process::Stdio::null());
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            script.env(key, value);
        }
    }
    let out = output_within(script, 120);
    text(&out.stdout).replace("\r\n", "\n")
}

/// What changes from run to run, each placeholder as wide as what it hides.
fn redactions() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.add_filter(
        r"\b[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}\b",
        "[run id..................]",
    );
    s.add_filter(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\b", "YYYY-MM-DD hh:mm:ss");
    s.add_filter(r" at [0-9a-f]{10}\b", " at [commit..]");
    s.add_filter(r"\b(\d\.\d\ds|\d\d\.\ds|\dm\d\ds)", "#.##s");
    s
}

#[test]
fn token_and_project_lists_and_a_waited_run_are_tables() {
    let mut fleet = Fleet::start(PIPELINE);
    fleet.cli_ok(&["token", "create", "--role", "agent", "runner-1"]);
    fleet.cli_ok(&["token", "create", "--role", "admin", "ops"]);
    fleet.cli_ok(&["token", "revoke", "ops"]);
    let tokens = on_terminal(&fleet.cli(&["token", "list"]), 100);
    redactions().bind(|| insta::assert_snapshot!("token_list", tokens));

    let repo = fleet.repo_url();
    fleet.cli_ok(&[
        "project",
        "add",
        "demo",
        "--repo",
        &repo,
        "--max-running",
        "2",
    ]);
    let projects = on_terminal(&fleet.cli(&["project", "list"]), 100);
    let row = projects
        .lines()
        .find(|l| l.starts_with("│ demo "))
        .unwrap_or_else(|| panic!("no row of demo:\n{projects}"));
    assert!(
        row.contains("   weight 1, at most 2 running   file://"),
        "{projects}"
    );
    assert!(projects.starts_with('┌'), "{projects}");
    assert!(
        projects.lines().all(|l| l.chars().count() <= 100),
        "{projects}"
    );

    fleet.agent("a1");
    let waited = on_terminal(
        &fleet.cli(&["trigger", "demo", "--ref", "main", "--wait"]),
        100,
    );
    redactions().bind(|| insta::assert_snapshot!("trigger_wait", waited));
}
