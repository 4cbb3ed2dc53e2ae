//! Cron schedules on real servers: two `railyard server` processes on one PostgreSQL and an
//! agent; a schedule firing every few seconds starts exactly one run per fire time (each
//! server's log says which times it fired), each run started by `schedule:NAME`, and a
//! schedule whose ref is gone records the error and goes on. On one server through the CLI:
//! hostile input (a bad cron, ref or name, a duplicate, an unknown project, a cron over the
//! minimum interval) is refused naming the field with nothing stored, and a viewer may list
//! but not add (403).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::fleet::*;
use crate::people::{as_person, member};

const PIPELINE: &str =
    "env: { image: busybox }\njobs:\n  tick:\n    script: ['echo tick on $RAILYARD_EVENT']\n";

/// Waits up to `secs` for `check` to give a value, polling; panics with `what` after.
fn wait_for<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {secs} s for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The `schedule fired` lines of a server's log, as (fire time, run or `None`).
fn fires(log: &Path, schedule: &str) -> Vec<(i64, Option<String>)> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let field = |line: &str, key: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .map(|v| v.trim_matches('"').to_owned())
    };
    text.lines()
        .filter(|l| l.contains("schedule fired") && l.contains(&format!("schedule={schedule}")))
        .map(|l| {
            let at = field(l, "fire_at=").expect("fire_at").parse().unwrap();
            (at, field(l, "run="))
        })
        .collect()
}

/// The project's schedules as `schedule list --json` gives them, by name.
fn schedules(fleet: &Fleet) -> BTreeMap<String, serde_json::Value> {
    let out = fleet.cli_ok(&["schedule", "list", "demo", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    list.into_iter()
        .map(|s| (s["name"].as_str().unwrap().to_owned(), s))
        .collect()
}

/// The ids of the project's runs.
fn runs(fleet: &Fleet) -> Vec<String> {
    let (status, body) = fleet.get("/api/v1/runs?project=demo&limit=0");
    assert_eq!(status, 200, "{body}");
    let runs: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    runs.iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn two_servers_on_one_postgres_start_each_fire_time_once() {
    let Some(db) = PgDb::create() else {
        return;
    };
    let mut fleet = Fleet::start_on(PIPELINE, Some(&db.url));
    let flags = ["--min-schedule-secs", "1"];
    fleet.restart_server_with(Some(&db.url), &flags);
    let second_dir = fleet.dir.path().join("second");
    std::fs::create_dir_all(&second_dir).unwrap();
    let (mut second, second_url) =
        spawn_server_with(&second_dir, "127.0.0.1:0", Some(&db.url), &flags);
    let logs = [
        fleet.dir.path().join("server.err"),
        second_dir.join("server.err"),
    ];

    let repo = fleet.repo_url();
    fleet.cli_ok(&["project", "add", "demo", "--repo", &repo]);
    // Added through the second server: the first sees it within its longest sleep.
    let mut add = fleet.cli(&["schedule", "add", "demo", "--cron", "*/3 * * * * *"]);
    add.args(["--ref", "main", "--name", "tick", "--server", &second_url]);
    let out = output_within(add, 60);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("schedule `tick` of project `demo` added"));
    // A schedule whose ref does not exist: each fire records the error, and it goes on.
    fleet.cli_ok(&[
        "schedule",
        "add",
        "demo",
        "--cron",
        "*/2 * * * * *",
        "--ref",
        "no-such-branch",
        "--name",
        "broken",
    ]);
    fleet.agent("a1");

    // Both servers race for each fire time: the first sees the schedule within its longest
    // sleep (30 s), then both claim. Wait until each has won some, four fires at least.
    wait_for(150, "fires of `tick` won by each server", || {
        let won: Vec<usize> = logs.iter().map(|l| fires(l, "tick").len()).collect();
        (won.iter().all(|n| *n > 0) && won.iter().sum::<usize>() >= 4).then_some(())
    });
    let broken = wait_for(60, "`broken` to fire twice", || {
        let all: Vec<_> = logs.iter().flat_map(|l| fires(l, "broken")).collect();
        (all.len() >= 2).then_some(all)
    });
    assert!(broken.iter().all(|(_, run)| run.is_none()), "{broken:?}");
    let listed = schedules(&fleet);
    let error = listed["broken"]["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("no-such-branch"), "{}", listed["broken"]);
    assert!(listed["broken"]["last_run_id"].is_null());
    fleet.cli_ok(&["schedule", "rm", "demo", "tick"]);
    fleet.cli_ok(&["schedule", "rm", "demo", "broken"]);

    // Settled: every fire logged has its run, and every run of the project came of one fire.
    let fired = wait_for(60, "each fire's run to be recorded", || {
        let all: Vec<_> = logs.iter().flat_map(|l| fires(l, "tick")).collect();
        (all.len() == runs(&fleet).len()).then_some(all)
    });
    let mut per_time: BTreeMap<i64, usize> = BTreeMap::new();
    for (at, _) in &fired {
        *per_time.entry(*at).or_default() += 1;
        assert_eq!(at % 3000, 0, "a fire time off the cron's: {at}");
    }
    assert!(
        per_time.values().all(|n| *n == 1),
        "a fire time started more than one run: {per_time:?}\n{}",
        fleet.diagnostics()
    );
    let mut started: Vec<String> = fired.into_iter().map(|(_, run)| run.unwrap()).collect();
    started.sort();
    let mut recorded = runs(&fleet);
    recorded.sort();
    assert_eq!(started, recorded);
    // Each run was started by the schedule, with the schedule's event.
    let queued: String = logs
        .iter()
        .map(|l| std::fs::read_to_string(l).unwrap_or_default())
        .collect();
    for run in &recorded {
        let line = queued
            .lines()
            .find(|l| l.contains("run queued") && l.contains(run.as_str()))
            .unwrap_or_else(|| panic!("no `run queued` line for {run}"));
        assert!(
            line.contains("started_by")
                && line.contains("schedule:tick")
                && line.contains("event=schedule"),
            "{line}"
        );
    }
    for run in &recorded {
        let detail = fleet.wait_success(run, 180);
        assert_eq!(detail["run"]["status"], "success", "{detail}");
        assert_eq!(detail["run"]["event"], "schedule", "{detail}");
        assert_eq!(detail["run"]["started_by"], "schedule:tick", "{detail}");
        assert!(fleet.log(run, "tick").contains("tick on schedule"));
        assert_nothing_left(run);
    }
    let _ = second.kill();
    let _ = second.wait();
    drop(fleet);
    drop(db);
}

#[test]
fn hostile_schedules_are_refused_naming_the_field_and_viewers_may_not_add() {
    let mut fleet = Fleet::start(PIPELINE);
    fleet.restart_server_with(None, &["--min-schedule-secs", "2"]);
    let repo = fleet.repo_url();
    fleet.cli_ok(&["project", "add", "demo", "--repo", &repo]);
    let out = fleet.cli_ok(&[
        "schedule",
        "add",
        "demo",
        "--cron",
        "0 3 * * *",
        "--ref",
        "main",
    ]);
    assert!(
        out.contains("schedule `main` of project `demo` added"),
        "{out}"
    );
    assert!(out.contains("03:00:00 UTC"), "{out}");

    let refused = |args: &[&str], status: &str, needles: &[&str]| {
        let mut all = vec!["schedule", "add"];
        all.extend_from_slice(args);
        let out = output_within(fleet.cli(&all), 60);
        assert!(!out.status.success(), "{args:?} was taken");
        let err = text(&out.stderr);
        assert!(err.contains(status), "{args:?}: {err}");
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: no `{needle}` in {err}");
        }
    };
    let base = |cron: &'static str, git_ref: &'static str| {
        vec!["demo", "--cron", cron, "--ref", git_ref, "--name", "x"]
    };
    refused(&base("not a cron", "main"), "400", &["cron:"]);
    refused(&base("61 * * * *", "main"), "400", &["cron:"]);
    refused(
        &base("0 3 30 2 *", "main"),
        "400",
        &["cron:", "never fires"],
    );
    refused(
        &base("* * * * * *", "main"),
        "400",
        &["cron:", "minimum interval of 2 s"],
    );
    refused(
        &base("0 3 * * *", "a..b"),
        "400",
        &["ref:", "not a ref name"],
    );
    refused(&base("0 3 * * *", "main branch"), "400", &["ref:"]);
    refused(
        &[
            "demo",
            "--cron",
            "0 3 * * *",
            "--ref",
            "main",
            "--name",
            "a/b",
        ],
        "400",
        &["name:"],
    );
    refused(
        &["demo", "--cron", "0 4 * * *", "--ref", "main"],
        "409",
        &["name:", "has a schedule `main`"],
    );
    refused(
        &["nope", "--cron", "0 3 * * *", "--ref", "main"],
        "404",
        &["project `nope` not found"],
    );
    // Nothing of those was stored: the one schedule, unchanged.
    let listed = schedules(&fleet);
    assert_eq!(listed.keys().collect::<Vec<_>>(), ["main"]);
    assert_eq!(listed["main"]["cron"], "0 3 * * *");
    assert_eq!(listed["main"]["created_by"], "admin");

    // A viewer lists, but may neither add nor remove.
    let vic = member(&fleet, "vic", "viewer");
    let out = as_person(&fleet, &vic, &["schedule", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("0 3 * * *"),
        "{}",
        text(&out.stdout)
    );
    let add = [
        "schedule",
        "add",
        "demo",
        "--cron",
        "0 5 * * *",
        "--ref",
        "main",
        "--name",
        "v",
    ];
    for args in [&add[..], &["schedule", "rm", "demo", "main"]] {
        let out = as_person(&fleet, &vic, args);
        assert!(!out.status.success());
        let err = text(&out.stderr);
        assert!(err.contains("403") && err.contains("maintainer"), "{err}");
    }
    assert_eq!(schedules(&fleet).len(), 1);
    let out = fleet.cli_ok(&["audit", "--json"]);
    assert!(out.contains("schedule.add"), "{out}");
    fleet.cli_ok(&["schedule", "rm", "demo", "main"]);
    let out = output_within(fleet.cli(&["schedule", "rm", "demo", "main"]), 60);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("404"), "{}", text(&out.stderr));
}

/// Fire times missed while the server was down fire once when it is back, not once each; the
/// schedule then goes on from the next time after the restart.
#[test]
fn fire_times_missed_while_down_fire_once() {
    let mut fleet = Fleet::start(PIPELINE);
    let flags = ["--min-schedule-secs", "1"];
    fleet.restart_server_with(None, &flags);
    let repo = fleet.repo_url();
    fleet.cli_ok(&["project", "add", "demo", "--repo", &repo]);
    fleet.cli_ok(&[
        "schedule",
        "add",
        "demo",
        "--cron",
        "* * * * * *",
        "--ref",
        "main",
        "--name",
        "every",
    ]);
    let log = fleet.dir.path().join("server.err");
    wait_for(60, "a first fire", || {
        (!fires(&log, "every").is_empty()).then_some(())
    });

    fleet.server.kill().unwrap();
    fleet.server.wait().unwrap();
    let now = || railyard_types::Millis::now().as_i64();
    let down_at = now();
    // Down for five fire times (the condition is the clock itself).
    wait_for(30, "five missed fire times", || {
        (now() > down_at + 5_000).then_some(())
    });
    let addr = fleet.url.trim_start_matches("http://").to_string();
    let up_at = now();
    let (server, url) = spawn_server_with(fleet.dir.path(), &addr, None, &flags);
    assert_eq!(url, fleet.url);
    fleet.server = server;

    wait_for(60, "a fire after the restart", || {
        fires(&log, "every")
            .iter()
            .any(|(at, _)| *at > up_at)
            .then_some(())
    });
    let missed: Vec<_> = fires(&log, "every")
        .into_iter()
        .filter(|(at, _)| *at > down_at && *at <= up_at)
        .collect();
    assert_eq!(
        missed.len(),
        1,
        "the missed fire times fired {} times: {missed:?}",
        missed.len()
    );
    assert!(missed[0].1.is_some(), "{missed:?}");
    fleet.cli_ok(&["schedule", "rm", "demo", "every"]);
}
