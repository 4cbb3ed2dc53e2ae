//! `railyard run --registry` with an env Dockerfile: a key the registry lacks is built on this
//! machine and pushed (no server: the machine's build lock suffices), the run records the
//! digest (`railyard runs RUN`); once the engine forgets the image, the next run pulls it; a
//! registry that is down costs the run nothing.

use crate::common::{Project, assert_nothing_left, text};
use railyard_test_support::registry::Registry;
use serde_json::Value;
use std::process::Command;

/// The `env_ready` event of a `--json` run's output, and the run's id.
fn run_json(p: &Project, url: &str) -> (Value, String) {
    let out = p.run(&["run", "--json", "--registry", url]);
    let events = text(&out.stdout);
    assert!(out.status.success(), "{events}\n{}", text(&out.stderr));
    let events: Vec<Value> = (events.lines())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let ready = (events.iter())
        .find(|e| e["event"] == "env_ready")
        .unwrap_or_else(|| panic!("no env_ready: {events:?}"))
        .clone();
    let run = (events.iter())
        .find_map(|e| e["run_id"].as_str())
        .unwrap()
        .to_string();
    assert_nothing_left(&run);
    (ready, run)
}

fn forget(key: &str) {
    let filter = format!("label=io.railyard.env-key={key}");
    let out = Command::new("docker")
        .args(["images", "-q", "--filter", &filter])
        .output()
        .unwrap();
    for id in text(&out.stdout).split_whitespace() {
        let _ = Command::new("docker").args(["rmi", "-f", id]).output();
    }
}

/// Forgets the key's images when dropped.
struct Forget(String);

impl Drop for Forget {
    fn drop(&mut self) {
        forget(&self.0);
    }
}

#[test]
fn a_local_run_builds_and_pushes_a_missing_key_then_pulls_it() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let nonce = format!("{:?}", std::time::SystemTime::now());
    let p = Project::new(&format!(
        "env: {{ dockerfile: ci/Dockerfile, args: {{ NONCE: \"{nonce}\" }} }}\njobs:\n  unit: {{ script: [cat /built] }}\n"
    ));
    p.write(
        "ci/Dockerfile",
        "FROM busybox\nARG NONCE\nRUN echo \"built $NONCE\" > /built\n",
    );
    let url = format!("http://{}/laptop", registry.host);
    let (built, run) = run_json(&p, &url);
    let key = built["cache_key"].as_str().unwrap().to_string();
    let _forget = Forget(key.clone());
    assert_eq!(built["origin"], "built", "{built}");
    let reference = built["reference"].as_str().unwrap();
    let repository = reference
        .strip_prefix(&format!("{}/", registry.host))
        .and_then(|r| r.strip_suffix(&format!(":{key}")))
        .unwrap_or_else(|| panic!("{reference}"));
    assert!(repository.starts_with("laptop/env/"), "{repository}");
    let digest = registry.manifest_digest(repository, &key).unwrap();
    assert_eq!(built["digest"], digest.as_str(), "{built}");
    let shown = text(&p.run(&["runs", &run]).stdout);
    assert!(shown.contains(&format!("env of unit: {digest}")), "{shown}");

    forget(&key);
    let (pulled, _) = run_json(&p, &url);
    assert_eq!(pulled["origin"], "pulled", "{pulled}");
    assert_eq!(pulled["digest"], digest.as_str(), "{pulled}");
    assert_eq!(registry.tags(repository), vec![key.clone()]);

    // Present now: used as it is, its digest still known.
    let (local, _) = run_json(&p, &url);
    assert_eq!(local["origin"], "local", "{local}");
    assert_eq!(local["digest"], digest.as_str(), "{local}");

    // The registry gone: said, built here, not pushed, and the run passes.
    let down = format!("http://{}/laptop", registry.host);
    drop(registry);
    forget(&key);
    let (here, _) = run_json(&p, &down);
    assert_eq!(here["origin"], "built", "{here}");
    assert!(here["digest"].is_null(), "{here}");
}

/// A job cannot reach the env images' registry as the tests (and server.md) run it, on the
/// host's loopback: a job container's `127.0.0.1` is its own, and the host's address on the
/// job's network (its gateway) has nothing listening on the registry's port. Otherwise a
/// pull request's job could push its own image under `main`'s env key. The host reaches the
/// registry (the check can fail).
#[test]
fn a_job_cannot_reach_the_registry_on_the_hosts_loopback() {
    let Some(registry) = Registry::start() else {
        return;
    };
    assert_eq!(registry.tags("nothing/here"), Vec::<String>::new());
    let port = registry.host.rsplit(':').next().unwrap();
    let probe = format!(
        "for host in 127.0.0.1 $(ip route | awk '/^default/ {{print $3}}'); do \
         if wget -q -T 3 -O /dev/null http://$host:{port}/v2/; then echo \"reached $host\"; exit 1; fi; \
         echo \"unreachable: $host\"; done"
    );
    let p = Project::new(&format!(
        "env: {{ image: busybox }}\njobs:\n  probe:\n    script:\n      - {}\n",
        serde_json::to_string(&probe).unwrap()
    ));
    let out = p.run(&["run", "--json"]);
    let events = text(&out.stdout);
    assert!(out.status.success(), "{events}\n{}", text(&out.stderr));
    // Said by the job (an output line), for loopback and for the gateway.
    assert!(
        events.contains(r#""line":"unreachable: 127.0.0.1""#),
        "{events}"
    );
    assert_eq!(
        events.matches(r#""line":"unreachable: "#).count(),
        2,
        "{events}"
    );
    let run = events
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find_map(|e| e["run_id"].as_str().map(str::to_string))
        .expect("a run id");
    assert_nothing_left(&run);
}
