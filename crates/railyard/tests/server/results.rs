//! Job results as large as real suites reach the server: 100,000 test ids of 100 characters
//! are posted by each shard (`POST /jobs/{id}/tests`) and reported as timings by a job
//! (`POST /jobs/{id}/complete`), where 2 MiB was the limit of both. A result over the
//! server's limit gets 413, and its agent reports the job failed saying why, without the
//! timings, instead of dropping it (the job ran again until `agent lost`).

use crate::fleet::*;

/// `ids.sh N LEN`: N test ids of LEN characters, one a line.
const IDS: &str = r#"awk -v n="$1" -v len="$2" 'BEGIN { while (length(f) < len - 7) f = f "x"; for (i = 1; i <= n; i++) printf "t%06d%s\n", i, f }'
"#;

/// `report.sh FILE`: a passing JUnit case for each id of FILE.
const REPORT: &str = r#"awk 'BEGIN { print "<testsuites><testsuite name=\"big\">" } { printf "<testcase classname=\"big\" name=\"%s\" time=\"0.001\"/>\n", $0 } END { print "</testsuite></testsuites>" }' "$1" > report.xml
"#;

fn tests(count: u32, len: u32) -> String {
    format!(
        "    tests:\n      list: sh ci/ids.sh {count} {len}\n      run: sh ci/report.sh \"$RAILYARD_TESTS_FILE\"\n      junit: report.xml\n      format: \"{{name}}\"\n"
    )
}

#[test]
fn large_results_reach_the_server_and_too_large_ones_fail_their_job() {
    let pipeline = format!(
        "env: {{ image: busybox }}\njobs:\n  all:\n{}  split:\n    parallel: 2\n{}  huge:\n{}",
        tests(100_000, 100),
        tests(100_000, 100),
        // 18,000 ids of 1,000 characters: 18.2 MB of timings, over the server's 16 MiB.
        tests(18_000, 1_000),
    );
    let mut fleet = Fleet::start(&pipeline);
    fleet.push_file("ci/ids.sh", IDS);
    fleet.push_file("ci/report.sh", REPORT);
    // One job at a time: four at once, in debug builds on two cores, starve the agent's
    // heartbeats past the test fleet's 3 s lease.
    fleet.agent_with_slots("big", 1);
    let run = trigger(&fleet);
    let detail = fleet.wait_ended_as(&run, 600, "failed");
    let job = |name: &str| {
        detail["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("no job {name}: {detail}"))
            .clone()
    };
    // 100,000 timings in one result, 100,000 ids posted by each shard: all taken.
    for name in ["all", "split [1/2]", "split [2/2]"] {
        assert_eq!(
            job(name)["status"],
            "success",
            "{name}: {detail}\n{}",
            fleet.diagnostics()
        );
    }
    let db = fleet.dir.path().join("data").join("railyard.db");
    let counted = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("SELECT COUNT(*) FROM test_timings WHERE project = 'demo'")
        .output()
        .unwrap();
    assert_eq!(
        text(&counted.stdout).trim(),
        "100000",
        "{}",
        text(&counted.stderr)
    );
    // Over the limit: reported once as failed, saying why, its timings left out.
    let huge = job("huge");
    assert_eq!(huge["status"], "failed", "{detail}");
    let error = huge["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the job's result (18000 test timings) is too large for the server")
            && error.contains("413 too_large")
            && error.contains("`parallel`"),
        "{error}"
    );
    let log = fleet.log(&run, "huge");
    assert!(
        !log.contains("[railyard: attempt 2"),
        "it ran again:\n{log}"
    );
    let agent = std::fs::read_to_string(fleet.dir.path().join("big.err")).unwrap();
    let claims = agent
        .lines()
        .filter(|l| l.contains("job claimed") && l.contains("job=huge "))
        .count();
    assert_eq!(claims, 1, "{agent}");
    assert_nothing_left(&run);
}
