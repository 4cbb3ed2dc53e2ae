//! A realistic suite on the fleet: the fixture project `tests/fixtures/skewed-suite` (a small
//! Python package, 294 pytest tests of skewed durations, some CPU-bound) split over four
//! shards, run twice through a server and two agents of two slots each on one engine. The
//! second run is split by the timings the first one measured.

use railyard_types::ProjectName;
use std::collections::HashMap;
use std::path::Path;

use crate::fleet::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/skewed-suite");

/// Every file of the fixture, by its path relative to the fixture's root.
fn fixture_files(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            fixture_files(&path, out);
        } else {
            let rel = path.strip_prefix(FIXTURE).unwrap().display().to_string();
            out.push((rel, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The test ids each shard's log says passed (`-rA` prints `PASSED <id>` for each), and each
/// shard's wall time in seconds.
fn shards_of(fleet: &Fleet, run: &str) -> Vec<(Vec<String>, f64)> {
    let detail = fleet.wait_success(run, 900);
    let jobs = detail["jobs"].as_array().unwrap();
    (1..=4)
        .map(|k| {
            let name = format!("test [{k}/4]");
            let job = jobs
                .iter()
                .find(|j| j["name"] == name.as_str())
                .unwrap_or_else(|| panic!("no {name}: {detail}"));
            let secs = (job["finished_at"].as_i64().unwrap() - job["started_at"].as_i64().unwrap())
                as f64
                / 1000.0;
            let log = fleet.cli_ok(&["logs", run, &name]);
            let ids = log
                .lines()
                .filter_map(|l| l.strip_prefix("PASSED "))
                .map(|id| id.trim().to_string())
                .collect();
            (ids, secs)
        })
        .collect()
}

/// Every listed test ran once in the run, on one shard.
fn assert_each_ran_once(shards: &[(Vec<String>, f64)]) {
    let mut all: Vec<&String> = shards.iter().flat_map(|(ids, _)| ids).collect();
    assert_eq!(all.len(), 294, "{shards:?}");
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 294, "a test ran twice");
}

#[test]
fn a_skewed_pytest_suite_splits_by_measured_timings_on_two_agents() {
    let mut files = Vec::new();
    fixture_files(Path::new(FIXTURE), &mut files);
    let pipeline = files
        .iter()
        .find(|(rel, _)| rel == ".railyard.yml")
        .map(|(_, text)| text.clone())
        .unwrap();
    let mut fleet = Fleet::start(&pipeline);
    for (rel, text) in files.iter().filter(|(rel, _)| rel != ".railyard.yml") {
        fleet.push_file(rel, text);
    }
    fleet.agent_with_slots("b1", 2);
    fleet.agent_with_slots("b2", 2);

    let first = trigger(&fleet);
    let first_shards = shards_of(&fleet, &first);
    assert_each_ran_once(&first_shards);
    assert_nothing_left(&first);

    let timings: HashMap<String, f64> = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async {
            let store = railyard_store::Store::open_in(&fleet.dir.path().join("data")).await;
            store
                .unwrap()
                .timings(&ProjectName::from("demo"))
                .await
                .unwrap()
        })
        .into_iter()
        .map(|(id, (secs, _))| (id, secs))
        .collect();
    assert_eq!(timings.len(), 294, "every test was timed: {timings:?}");

    let out = output_within(
        fleet.cli(&["trigger", "demo", "--ref", "main", "--json"]),
        60,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let second = second["run"]["id"].as_str().unwrap().to_string();
    let second_shards = shards_of(&fleet, &second);
    assert_each_ran_once(&second_shards);
    assert_nothing_left(&second);

    // Each shard's share of the first run's measured time: balanced in the second run.
    let measured = |ids: &[String]| -> f64 {
        ids.iter()
            .map(|id| *timings.get(id).unwrap_or_else(|| panic!("{id} untimed")))
            .sum()
    };
    let shares: Vec<f64> = second_shards.iter().map(|(ids, _)| measured(ids)).collect();
    let longest = shares.iter().cloned().fold(0.0, f64::max);
    let mean = shares.iter().sum::<f64>() / shares.len() as f64;
    eprintln!(
        "measured seconds per shard, second run: {shares:.2?}; wall seconds first run {:.1?}, second {:.1?}",
        first_shards.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
        second_shards.iter().map(|(_, s)| *s).collect::<Vec<_>>(),
    );
    assert!(
        longest <= 1.2 * mean,
        "the second run's shards are within 1.2x of the mean by measured time: {shares:?}"
    );
}
