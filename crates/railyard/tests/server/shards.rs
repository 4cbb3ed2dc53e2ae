//! Sharded jobs on a fleet: each shard of a `parallel: N` job is queued on its own, so
//! different agents run different shards; their tests come from one queue the server keeps
//! in its store (queue mode), or from the same static plan computed on every agent.

use railyard_types::ProjectName;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::fleet::*;

/// "Runs" each id given (a short sleep), prints which shard ran it, writes a JUnit report.
const FAKE_TESTS: &str = r#"echo '<testsuites><testsuite name="fake">' > report.xml
for t in "$@"; do
  sleep "${SLEEP:-0.1}"
  echo "ran $t on shard $RAILYARD_SHARD/$RAILYARD_SHARDS"
  echo "<testcase classname=\"fake\" name=\"$t\" time=\"0.1\"/>" >> report.xml
done
echo '</testsuite></testsuites>' >> report.xml
"#;

fn pipeline(mode: &str) -> String {
    format!(
        "env: {{ image: busybox }}\nvariables: {{ SLEEP: \"0.1\" }}\njobs:\n  test:\n    parallel: 2\n    tests:\n      list: \"for i in $(seq 10 29); do echo t$i; done\"\n      run: sh ci/fake-tests.sh {{tests}}\n      junit: report.xml\n      mode: {mode}\n      format: \"{{name}}\"\n  after:\n    needs: [test]\n    script: [echo after]\n"
    )
}

/// Waits until the server lists `n` agents.
fn wait_agents(fleet: &Fleet, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = fleet.get("/api/v1/agents");
        if serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            == Some(n)
        {
            return;
        }
        assert!(Instant::now() < deadline, "{body}\n{}", fleet.diagnostics());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the job on two agents; returns, per shard, the ids its log says it ran.
fn two_agents_run(mut fleet: Fleet, database: Option<&str>) -> Vec<Vec<String>> {
    fleet.push_file("ci/fake-tests.sh", FAKE_TESTS);
    fleet.agent("a1");
    fleet.agent("a2");
    wait_agents(&fleet, 2);
    let run = trigger(&fleet);
    let detail = fleet.wait_success(&run, 240);
    let jobs = detail["jobs"].as_array().unwrap();
    let names: Vec<&str> = jobs.iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["test [1/2]", "test [2/2]", "after"], "{detail}");
    let job = |name: &str| jobs.iter().find(|j| j["name"] == name).unwrap().clone();
    for shard in ["test [1/2]", "test [2/2]"] {
        assert!(
            job("after")["started_at"].as_i64() >= job(shard)["finished_at"].as_i64(),
            "`after` started before {shard} ended: {detail}"
        );
    }
    // Each agent (one slot each) ran one shard.
    for agent in ["a1", "a2"] {
        let log = std::fs::read_to_string(fleet.dir.path().join(format!("{agent}.err"))).unwrap();
        let claimed = log
            .lines()
            .filter(|l| l.contains("job claimed") && l.contains("test ["))
            .count();
        assert_eq!(claimed, 1, "{agent}:\n{log}");
    }
    let mut ran = Vec::new();
    for (k, shard) in ["test [1/2]", "test [2/2]"].into_iter().enumerate() {
        let (status, log) = fleet.get(&format!(
            "/api/v1/runs/{run}/logs/{}",
            railyard_types::protocol::path_segment(shard)
        ));
        assert_eq!(status, 200, "{log}");
        let mine: Vec<String> = log
            .lines()
            .filter_map(|l| l.strip_prefix("ran "))
            .map(|l| {
                let (id, on) = l.split_once(" on shard ").unwrap();
                assert_eq!(on, format!("{}/2", k + 1), "{log}");
                id.to_string()
            })
            .collect();
        ran.push(mine);
    }
    let mut all: Vec<String> = ran.concat();
    all.sort();
    let expected: Vec<String> = (10..30).map(|i| format!("t{i}")).collect();
    assert_eq!(all, expected, "every test ran exactly once: {ran:?}");
    // Every shard's timings reached the project's.
    let timings = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = match database {
            Some(url) => railyard_store::Store::open(url).await,
            None => railyard_store::Store::open_in(&fleet.dir.path().join("data")).await,
        };
        store
            .unwrap()
            .timings(&ProjectName::from("demo"))
            .await
            .unwrap()
    });
    for id in &expected {
        assert!(timings.contains_key(id), "{id} has no timing: {timings:?}");
    }
    assert_nothing_left(&run);
    ran
}

#[test]
fn queue_mode_shards_on_two_agents_share_one_queue() {
    two_agents_run(Fleet::start(&pipeline("queue")), None);
}

/// The same on PostgreSQL: the queue's row is changed under its row lock.
#[test]
fn queue_mode_shards_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    two_agents_run(
        Fleet::start_on(&pipeline("queue"), Some(&db.url)),
        Some(&db.url),
    );
}

/// Static mode: every agent lists the tests and splits them by the same timings (the ones
/// the first shard's post fixed), so the two shares are the plan's halves.
#[test]
fn static_mode_shards_run_the_same_plan_on_two_agents() {
    let ran = two_agents_run(Fleet::start(&pipeline("static")), None);
    assert_eq!(ran[0].len(), 10, "{ran:?}");
    assert_eq!(ran[1].len(), 10, "{ran:?}");
}

/// The CLI reads a shard's log by its name, percent-encoded in the URL (sent raw, the `/` of
/// `test [2/2]` split the path: 404 "no such endpoint"), and a whole run's logs shard by
/// shard, each under its name (it printed nothing for a sharded run and exited 0).
#[test]
fn the_cli_reads_a_shards_log_by_name_and_every_shard_of_a_run() {
    let mut fleet = Fleet::start(&pipeline("static"));
    fleet.push_file("ci/fake-tests.sh", FAKE_TESTS);
    fleet.agent("a1");
    let run = trigger(&fleet);
    fleet.wait_success(&run, 240);

    let second = fleet.cli_ok(&["logs", &run, "test [2/2]"]);
    assert!(second.contains(" on shard 2/2"), "{second}");
    assert!(!second.contains(" on shard 1/2"), "{second}");

    let all = fleet.cli_ok(&["logs", &run]);
    let at = |needle: &str| {
        all.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{all}"))
    };
    let order = [
        at("==> test [1/2] <=="),
        at(" on shard 1/2"),
        at("==> test [2/2] <=="),
        at(" on shard 2/2"),
        at("==> after <=="),
    ];
    assert!(order.is_sorted(), "{order:?}:\n{all}");
    assert_nothing_left(&run);
}

/// An agent spoken for over HTTP (no Docker): registers, claims one job.
struct FakeAgent {
    id: String,
}

impl FakeAgent {
    fn register(fleet: &Fleet, name: &str) -> FakeAgent {
        let body = json!({"name": name, "slots": 1}).to_string();
        let (status, body) = http(
            &fleet.url,
            "POST",
            "/api/v1/agents/register",
            Some(AGENT),
            &body,
        );
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        FakeAgent {
            id: v["agent_id"].as_str().unwrap().to_string(),
        }
    }

    fn claim(&self, fleet: &Fleet) -> Option<Value> {
        let body = json!({"agent_id": self.id, "wait_ms": 0}).to_string();
        let (status, body) = http(
            &fleet.url,
            "POST",
            "/api/v1/agents/claim",
            Some(AGENT),
            &body,
        );
        match status {
            200 => Some(serde_json::from_str(&body).unwrap()),
            204 => None,
            _ => panic!("claim: {status} {body}"),
        }
    }
}

/// POSTs `body` (with the claim's agent and attempt) to `/api/v1/jobs/{id}/{what}`.
fn call(
    fleet: &Fleet,
    claim: &Value,
    agent: &FakeAgent,
    what: &str,
    mut body: Value,
) -> (u16, Value) {
    body["agent_id"] = json!(agent.id);
    body["attempt"] = claim["attempt"].clone();
    let path = format!("/api/v1/jobs/{}/{what}", claim["job_id"].as_str().unwrap());
    let (status, text) = http(&fleet.url, "POST", &path, Some(AGENT), &body.to_string());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn ids(batch: &Value) -> Vec<String> {
    batch["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// The protocol with simulated agents: shards claimed apart, `needs` waiting for every
/// shard, the first post of the ids winning, bad requests refused by name, and a shard whose
/// lease lapsed giving its batch to the other.
#[test]
fn shard_protocol_with_simulated_agents() {
    let fleet = Fleet::start(&pipeline("queue"));
    let out = output_within(
        fleet.cli(&["project", "add", "demo", "--repo", &fleet.repo_url()]),
        30,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = output_within(fleet.cli(&["trigger", "demo", "--json"]), 60);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let a = FakeAgent::register(&fleet, "a");
    let b = FakeAgent::register(&fleet, "b");
    let c = FakeAgent::register(&fleet, "c");
    let one = a.claim(&fleet).expect("a shard for a");
    let two = b.claim(&fleet).expect("a shard for b");
    let mut shards = [one["shard"].clone(), two["shard"].clone()];
    shards.sort_by_key(|s| s["shard"].as_u64());
    assert_eq!(
        shards,
        [
            json!({"job": "test", "shard": 1, "shards": 2}),
            json!({"job": "test", "shard": 2, "shards": 2})
        ]
    );
    // Which agent got which shard is up to the queue (the shards were queued in the same
    // millisecond): name them by the shard they hold.
    let ((one, a), (two, b)) = if one["shard"]["shard"] == 1 {
        ((one, a), (two, b))
    } else {
        ((two, b), (one, a))
    };
    assert_eq!(one["job"], "test [1/2]");
    // `after` needs `test`: it waits while any shard runs.
    assert!(
        c.claim(&fleet).is_none(),
        "`after` was handed out before the shards ended"
    );

    // Bad input, each named.
    let (status, body) = call(&fleet, &one, &a, "tests/next", json!({"shard": "x"}));
    assert_eq!(status, 400);
    assert!(body.to_string().contains("shard"), "{body}");
    let (status, body) = call(&fleet, &one, &a, "tests/next", json!({"shard": 3}));
    assert_eq!(status, 400, "{body} {one}\n{}", fleet.diagnostics());
    assert!(
        body.to_string().contains("`shard`: 3 is out of range"),
        "{body}"
    );
    let (status, _) = http(
        &fleet.url,
        "POST",
        "/api/v1/jobs/no-such-job/tests/next",
        Some(AGENT),
        &json!({"agent_id": a.id, "attempt": 1, "shard": 1}).to_string(),
    );
    assert_eq!(status, 404);
    let (status, body) = call(&fleet, &one, &a, "tests/next", json!({"shard": 1}));
    assert_eq!(status, 409, "the queue is not open yet: {body}");

    // The first post of the ids opens the queue; a shard that listed others is refused.
    let listed: Vec<String> = (10..30).map(|i| format!("t{i}")).collect();
    let (status, body) = call(&fleet, &one, &a, "tests", json!({"tests": listed}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&fleet, &two, &b, "tests", json!({"tests": ["t10", "t99"]}));
    assert_eq!(status, 409, "{body}");
    let mut reversed = listed.clone();
    reversed.reverse();
    let (status, body) = call(&fleet, &two, &b, "tests", json!({"tests": reversed}));
    assert_eq!(status, 200, "the same ids in another order: {body}");

    // Shard 1 takes a batch and goes silent; shard 2 drains the rest, then waits for it.
    let (status, first) = call(&fleet, &one, &a, "tests/next", json!({"shard": 1}));
    assert_eq!(status, 200, "{first}");
    let held = ids(&first["batch"]);
    let mut ran: Vec<String> = Vec::new();
    let mut done = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Keep shard 2's lease; shard 1's lapses (3 s) and its batch comes back.
        let (status, _) = call(&fleet, &two, &b, "heartbeat", json!({}));
        assert_eq!(status, 200);
        let body = json!({"shard": 2, "done": done});
        let (status, next) = call(&fleet, &two, &b, "tests/next", body);
        assert_eq!(status, 200, "{next}");
        if next["batch"].is_object() {
            ran.extend(ids(&next["batch"]));
            done = json!({"batch": next["batch"]["id"], "elapsed_secs": 0.1, "tests_secs": 0.1});
        } else if next["wait_ms"].is_u64() {
            assert!(Instant::now() < deadline, "shard 1's batch never came back");
            done = Value::Null;
            std::thread::sleep(Duration::from_millis(200));
        } else {
            break;
        }
    }
    assert!(
        held.iter().all(|t| ran.contains(t)),
        "{held:?} came back: {ran:?}"
    );
    let mut all = ran.clone();
    all.sort();
    assert_eq!(
        all, listed,
        "shard 2 ran everything once, shard 1's batch included"
    );
    let (status, _) = call(&fleet, &two, &b, "tests/give-back", json!({"shard": 2}));
    assert_eq!(status, 204);
}

/// The shard log's `ran` ids.
fn ran_in(fleet: &Fleet, run: &str, shard: &str) -> Vec<String> {
    let (_, log) = fleet.get(&format!(
        "/api/v1/runs/{run}/logs/{}",
        railyard_types::protocol::path_segment(shard)
    ));
    log.lines()
        .filter_map(|l| l.strip_prefix("ran "))
        .filter_map(|l| l.split_once(" on shard "))
        .map(|(id, _)| id.to_string())
        .collect()
}

/// An agent killed while its shard holds a batch: the batch goes to the other shard once
/// the lease lapses, the shard itself runs again on another agent, and every test runs.
#[test]
fn a_killed_agents_batch_goes_to_the_other_shard() {
    let slow = pipeline("queue").replace("SLEEP: \"0.1\"", "SLEEP: \"0.3\"");
    let mut fleet = Fleet::start(&slow);
    fleet.push_file("ci/fake-tests.sh", FAKE_TESTS);
    let first = fleet.agent("first");
    wait_agents(&fleet, 1);
    let run = trigger(&fleet);
    // Kill the agent once its shard is running tests.
    let deadline = Instant::now() + Duration::from_secs(120);
    let shards = ["test [1/2]", "test [2/2]"];
    while shards.iter().all(|s| ran_in(&fleet, &run, s).is_empty()) {
        assert!(Instant::now() < deadline, "{}", fleet.diagnostics());
        std::thread::sleep(Duration::from_millis(100));
    }
    let killed = *shards
        .iter()
        .find(|s| !ran_in(&fleet, &run, s).is_empty())
        .unwrap();
    fleet.agents[first].kill().unwrap(); // SIGKILL
    let _ = fleet.agents[first].wait();
    fleet.agent("second");
    fleet.agent("third");
    fleet.wait_success(&run, 240);
    let mut all: Vec<String> = shards
        .iter()
        .flat_map(|s| ran_in(&fleet, &run, s))
        .collect();
    all.sort();
    all.dedup();
    let expected: Vec<String> = (10..30).map(|i| format!("t{i}")).collect();
    assert_eq!(all, expected, "every test ran");
    let (_, log) = fleet.get(&format!(
        "/api/v1/runs/{run}/logs/{}",
        railyard_types::protocol::path_segment(killed)
    ));
    assert!(log.contains("[railyard: attempt 2"), "{log}");
    assert_nothing_left(&run);
}
