//! Several shards of one job on one engine: an agent with several slots takes several shards
//! of the same job, or two agents share one engine. Each shard's end must leave the others'
//! containers alone (the first shard to end once removed its siblings': exit 137, "no JUnit
//! report found"), and every test must run exactly once.

use crate::fleet::*;

/// "Runs" each id given, prints which shard ran it, writes a JUnit report. `slow*` tests take
/// 6 s and the others 0.3 s, so the shards of a job end far apart.
const FAKE_TESTS: &str = r#"echo '<testsuites><testsuite name="fake">' > report.xml
for t in "$@"; do
  case $t in slow*) sleep 6 ;; *) sleep 0.3 ;; esac
  echo "ran $t on shard $RAILYARD_SHARD/$RAILYARD_SHARDS"
  echo "<testcase classname=\"fake\" name=\"$t\" time=\"0.3\"/>" >> report.xml
done
echo '</testsuite></testsuites>' >> report.xml
"#;

const TESTS: [&str; 8] = ["slow1", "t2", "t3", "t4", "t5", "t6", "t7", "t8"];

fn pipeline(mode: &str) -> String {
    format!(
        "env: {{ image: busybox }}\njobs:\n  test:\n    parallel: 4\n    tests:\n      list: \"echo {}\"\n      run: sh ci/fake-tests.sh {{tests}}\n      junit: report.xml\n      mode: {mode}\n      format: \"{{name}}\"\n",
        TESTS.join(" ").replace(' ', "; echo ")
    )
}

/// Runs the four shards on agents with the given slots; checks that the run passed, that
/// every test ran exactly once, and that nothing is left on the engine.
fn run_on(mode: &str, agents: &[(&str, u32)]) {
    let mut fleet = Fleet::start(&pipeline(mode));
    fleet.push_file("ci/fake-tests.sh", FAKE_TESTS);
    for (name, slots) in agents {
        fleet.agent_with_slots(name, *slots);
    }
    let run = trigger(&fleet);
    let detail = fleet.wait_success(&run, 240);
    let shards: Vec<String> = (1..=4).map(|k| format!("test [{k}/4]")).collect();
    let names: Vec<&str> = detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|j| j["name"].as_str())
        .collect();
    assert_eq!(names, shards, "{detail}");
    let mut ran: Vec<String> = Vec::new();
    for (k, shard) in shards.iter().enumerate() {
        let log = fleet.cli_ok(&["logs", &run, shard]);
        for line in log.lines().filter_map(|l| l.strip_prefix("ran ")) {
            let (id, on) = line.split_once(" on shard ").unwrap();
            assert_eq!(on, format!("{}/4", k + 1), "{log}");
            ran.push(id.to_string());
        }
    }
    ran.sort();
    let mut expected: Vec<String> = TESTS.iter().map(|t| t.to_string()).collect();
    expected.sort();
    assert_eq!(ran, expected, "every test ran exactly once");
    // The agents claimed the four shards and nothing twice.
    let claimed: usize = agents
        .iter()
        .map(|(name, _)| {
            let log = std::fs::read_to_string(fleet.dir.path().join(format!("{name}.err")));
            log.unwrap()
                .lines()
                .filter(|l| l.contains("job claimed"))
                .count()
        })
        .sum();
    assert_eq!(claimed, 4, "{}", fleet.diagnostics());
    assert_nothing_left(&run);
}

#[test]
fn one_agent_with_four_slots_runs_every_shard_of_a_static_split() {
    run_on("static", &[("a4", 4)]);
}

#[test]
fn one_agent_with_four_slots_runs_every_shard_of_a_queue() {
    run_on("queue", &[("a4", 4)]);
}

#[test]
fn two_agents_with_two_slots_on_one_engine_share_the_shards() {
    run_on("static", &[("b1", 2), ("b2", 2)]);
}
