//! Env images through a real registry (Debian's docker-registry), a real server and two
//! agents on separate data folders. Both agents share this machine's one engine, so a pull is
//! proved by removing the image between jobs: the second agent's log says `pulled`, never
//! `built`. A key is built once, however many agents ask at once; a laptop's `railyard run
//! --registry` pulls what the fleet pushed; a registry away costs the job nothing; an agent
//! asks only for its own job's project's keys (`env_leases`).

use std::process::Command;
use std::time::{Duration, Instant};

use railyard_test_support::registry::{AUTH_PASSWORD, AUTH_USER, Registry};
use serde_json::{Value, json};

use crate::fleet::*;

/// A pipeline whose env is built from `ci/Dockerfile` with an argument of this test only (a
/// key nobody built before), and `jobs` after it.
pub(crate) fn pipeline(nonce: &str, jobs: &str) -> String {
    format!("env: {{ dockerfile: ci/Dockerfile, args: {{ NONCE: \"{nonce}\" }} }}\njobs:\n{jobs}")
}

pub(crate) fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{}-{nanos:x}", std::process::id())
}

pub(crate) fn start(pipeline: &str) -> Fleet {
    start_on(pipeline, None)
}

/// [`start`] on the given database.
fn start_on(pipeline: &str, database: Option<&str>) -> Fleet {
    let fleet = Fleet::start_on(pipeline, database);
    fleet.push_file(
        "ci/Dockerfile",
        "FROM busybox\nARG NONCE\nRUN echo \"built $NONCE\" > /built\n",
    );
    fleet
}

/// Removes every local image carrying env key `key` (all its tags).
pub(crate) fn remove_env_images(key: &str) {
    let filter = format!("label=io.railyard.env-key={key}");
    let out = Command::new("docker")
        .args(["images", "-q", "--filter", &filter])
        .output()
        .unwrap();
    let mut ids: Vec<String> = text(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    ids.dedup();
    for id in ids {
        let _ = Command::new("docker").args(["rmi", "-f", &id]).output();
    }
}

/// Removes the images of `key` when dropped: whatever the test's end.
pub(crate) struct Cleanup(pub(crate) Option<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(key) = &self.0 {
            remove_env_images(key);
        }
    }
}

/// Polls the run until `ok` holds of its detail (a bound for a stuck run, not a timing).
pub(crate) fn wait_for(fleet: &Fleet, run: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (status, body) = fleet.get(&format!("/api/v1/runs/{run}"));
        assert_eq!(status, 200, "{body}");
        let detail: Value = serde_json::from_str(&body).unwrap();
        if ok(&detail) {
            return detail;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never came: {detail}\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub(crate) fn job<'a>(detail: &'a Value, name: &str) -> &'a Value {
    (detail["jobs"].as_array().unwrap().iter())
        .find(|j| j["name"] == name)
        .unwrap_or_else(|| panic!("no job {name}: {detail}"))
}

/// The lines of `log` saying how the env image came.
pub(crate) fn env_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.starts_with("[railyard] env ci/Dockerfile: "))
        .collect()
}

/// Agent `one` builds the key and pushes it; the engine forgets it; agent `two` pulls it.
/// Both take `flags` besides their registry. Returns the fleet, the run, the key's cleanup
/// and the digest pushed.
fn built_then_pulled(registry: &Registry, flags: &[&str]) -> (Fleet, String, Cleanup, String) {
    let nonce = nonce();
    let jobs = "  first: { runs_on: [one], script: [cat /built] }\n  second: { runs_on: [two], needs: [first], manual: true, script: [cat /built] }\n";
    let mut fleet = start(&pipeline(&nonce, jobs));
    let url = format!("http://{}/fleet", registry.host);
    for name in ["one", "two"] {
        let mut all = vec!["--labels", name, "--registry", &url];
        all.extend_from_slice(flags);
        fleet.agent_with(name, &all);
    }
    let run = trigger(&fleet);
    let detail = wait_for(&fleet, &run, "the first job's end", |d| {
        job(d, "first")["status"] != "running" && job(d, "first")["status"] != "pending"
    });
    let cleanup = Cleanup(job(&detail, "first")["env_key"].as_str().map(str::to_owned));
    let first = fleet.log(&run, "first");
    assert_eq!(
        job(&detail, "first")["status"],
        "success",
        "{detail}\n{first}"
    );
    let key = cleanup.0.clone().expect("an env key");
    let reference = format!("{}/fleet/env/demo:{key}", registry.host);
    let pushed = registry
        .manifest_digest("fleet/env/demo", &key)
        .unwrap_or_else(|| panic!("the key's image is not in the registry: {first}"));
    assert_eq!(
        env_lines(&first),
        vec![format!(
            "[railyard] env ci/Dockerfile: built {reference}, pushed ({pushed})"
        )],
        "{first}"
    );

    // Another engine would lack the image: this one forgets it before the second job.
    remove_env_images(&key);
    fleet.cli_ok(&["approve", &run, "second"]);
    let detail = fleet.wait_success(&run, 240);
    let second = fleet.log(&run, "second");
    assert_eq!(
        env_lines(&second),
        vec![format!(
            "[railyard] env ci/Dockerfile: pulled {reference} ({pushed})"
        )],
        "{second}"
    );
    assert!(second.contains(&format!("built {nonce}")), "{second}");
    assert!(
        !second.contains("Step 1/"),
        "the second job built: {second}"
    );
    // Every job records the digest it ran on; the registry holds the key once.
    for name in ["first", "second"] {
        assert_eq!(
            job(&detail, name)["env_image_digest"],
            pushed.as_str(),
            "{detail}"
        );
    }
    assert_eq!(registry.tags("fleet/env/demo"), vec![key.clone()]);
    let shown = fleet.cli_ok(&["runs", &run]);
    assert!(
        shown.contains(&format!("env of second: {pushed}")),
        "{shown}"
    );
    (fleet, run, cleanup, pushed)
}

/// A registry asking for a user and password (htpasswd: Distribution takes it over plain HTTP
/// on loopback): the agents' credentials file gets their engine through, for the push and the
/// pull (without it the first job's push is refused: checked by hand), and the password shows
/// in no log.
#[test]
fn registry_credentials_reach_the_engine_and_no_log() {
    let Some(registry) = Registry::start_with_auth() else {
        return;
    };
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("registry-auth");
    std::fs::write(&file, format!("{AUTH_USER}:{AUTH_PASSWORD}\n")).unwrap();
    let flags = ["--registry-auth-file", file.to_str().unwrap()];
    let (fleet, run, _cleanup, _) = built_then_pulled(&registry, &flags);
    assert_nothing_left(&run);
    let mut seen = fleet.log(&run, "first") + &fleet.log(&run, "second");
    seen.push_str(&fleet.diagnostics());
    assert!(
        !seen.contains(AUTH_PASSWORD),
        "the password was logged: {seen}"
    );
}

#[test]
fn a_key_built_by_one_agent_is_pulled_by_the_other_and_by_a_laptop() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let (fleet, run, cleanup, pushed) = built_then_pulled(&registry, &[]);
    let key = cleanup.0.clone().unwrap();
    let url = format!("http://{}/fleet", registry.host);
    let reference = format!("{}/fleet/env/demo:{key}", registry.host);

    // The server knows the key, its digest and its use, for garbage collection.
    let listed: Value = serde_json::from_str(&fleet.cli_ok(&["env-images", "--json"])).unwrap();
    let row = (listed.as_array().unwrap().iter())
        .find(|r| r["key"] == key.as_str())
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(row["project"], "demo");
    assert_eq!(row["digest"], pushed.as_str());
    assert_eq!(row["reference"], reference.as_str());
    assert!(row["last_used_at"].is_i64(), "{row}");
    assert!(row["lease_holder"].is_null(), "{row}");
    let unused = fleet.cli_ok(&["env-images", "--unused-days", "1", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&unused).unwrap(), json!([]));
    assert_nothing_left(&run);

    // A laptop's clone, its folder named as the project: `railyard run --registry` pulls.
    remove_env_images(&key);
    let laptop = fleet.dir.path().join("laptop");
    std::fs::create_dir_all(&laptop).unwrap();
    git(&laptop, &["clone", "-q", &fleet.repo_url(), "demo"]);
    let out = output_within(
        {
            let mut cmd = bin();
            cmd.current_dir(laptop.join("demo"))
                .env("RAILYARD_HOME", laptop.join("home"))
                .args(["run", "first", "--json", "--registry", &url]);
            cmd
        },
        240,
    );
    let events = text(&out.stdout);
    assert!(out.status.success(), "{events}\n{}", text(&out.stderr));
    let ready: Value = (events.lines())
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "env_ready")
        .unwrap_or_else(|| panic!("no env_ready: {events}"));
    assert_eq!(ready["origin"], "pulled", "{ready}");
    assert_eq!(ready["digest"], pushed.as_str(), "{ready}");
    assert_eq!(registry.tags("fleet/env/demo"), vec![key.clone()]);

    // Garbage collection: keys unused for 0 days (all of them) are deleted from the registry
    // and forgotten by the server.
    let deleted = fleet.cli_ok(&[
        "env-images",
        "--unused-days",
        "0",
        "--delete",
        "--registry",
        &url,
    ]);
    assert!(
        deleted.contains(&format!("deleted {reference}@{pushed}")),
        "{deleted}"
    );
    assert_eq!(registry.manifest_digest("fleet/env/demo", &key), None);
    let listed = fleet.cli_ok(&["env-images", "--json"]);
    assert_eq!(serde_json::from_str::<Value>(&listed).unwrap(), json!([]));
}

#[test]
fn two_agents_asking_for_one_new_key_at_once_build_it_once() {
    built_once(None);
}

/// The same on PostgreSQL (migration 0031 there; the lease on the database's clock).
#[test]
fn two_agents_asking_for_one_new_key_at_once_build_it_once_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    built_once(Some(&db.url));
}

fn built_once(database: Option<&str>) {
    let Some(registry) = Registry::start() else {
        return;
    };
    let nonce = nonce();
    let jobs = "  a: { runs_on: [one], script: [cat /built] }\n  b: { runs_on: [two], script: [cat /built] }\n";
    let mut fleet = start_on(&pipeline(&nonce, jobs), database);
    let url = format!("http://{}/fleet", registry.host);
    fleet.agent_with("one", &["--labels", "one", "--registry", &url]);
    fleet.agent_with("two", &["--labels", "two", "--registry", &url]);
    let run = trigger(&fleet);
    let detail = fleet.wait_run(&run, 240);
    let _cleanup = Cleanup(job(&detail, "a")["env_key"].as_str().map(str::to_owned));
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    let key = job(&detail, "a")["env_key"].as_str().unwrap().to_string();
    let logs = [fleet.log(&run, "a"), fleet.log(&run, "b")];
    let lines: Vec<&str> = logs.iter().flat_map(|l| env_lines(l)).collect();
    let built = lines.iter().filter(|l| l.contains(": built ")).count();
    assert_eq!(built, 1, "{lines:#?}\n{}", logs.join("\n"));
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert_eq!(registry.tags("fleet/env/demo"), vec![key.clone()]);
    let digest = registry.manifest_digest("fleet/env/demo", &key).unwrap();
    for name in ["a", "b"] {
        assert_eq!(
            job(&detail, name)["env_image_digest"],
            digest.as_str(),
            "{detail}"
        );
    }
    assert_nothing_left(&run);
}

/// A registry that is down (nothing listens at its address) is said in the log; the job
/// builds its env here and runs.
#[test]
fn a_registry_that_is_down_costs_the_job_nothing() {
    let nonce = nonce();
    let mut fleet = start(&pipeline(&nonce, "  only: { script: [cat /built] }\n"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/fleet");
    fleet.agent_with("one", &["--registry", &url]);
    let run = trigger(&fleet);
    let detail = fleet.wait_run(&run, 240);
    let _cleanup = Cleanup(job(&detail, "only")["env_key"].as_str().map(str::to_owned));
    let log = fleet.log(&run, "only");
    assert_eq!(detail["run"]["status"], "success", "{detail}\n{log}");
    assert!(
        log.contains(&format!(
            "the registry 127.0.0.1:{port}/fleet cannot be reached"
        )) && log.contains("building here, without pushing"),
        "{log}"
    );
    assert!(log.contains(&format!("built {nonce}")), "{log}");
    assert_eq!(env_lines(&log).len(), 1, "{log}");
    assert!(
        env_lines(&log)[0].contains(": built image sha256:"),
        "{log}"
    );
    assert!(
        job(&detail, "only")["env_image_digest"].is_null(),
        "{detail}"
    );
    assert_nothing_left(&run);
}
