//! The build lease of env keys on a real server: an agent asks only under a job it holds, for
//! that job's project (hostile asks refused), and a lease whose holder stopped calling lapses
//! and is taken over by the agent waiting for it.

use railyard_test_support::registry::Registry;
use serde_json::{Value, json};

use crate::env_registry::*;
use crate::fleet::*;

/// An agent asks for leases under a job it holds, for that job's project: it cannot name
/// another project, take a lease under a job it does not hold, or send a key that is not one.
/// What it leases for its own project leaves another project's same key free.
#[test]
fn an_agent_leases_only_its_own_jobs_project_keys() {
    let fleet = Fleet::start("env: { image: busybox }\njobs:\n  only: { script: [\"true\"] }\n");
    let post =
        |path: &str, body: &Value| http(&fleet.url, "POST", path, Some(AGENT), &body.to_string());
    for (name, repo) in [("other", fleet.repo_url()), ("demo", fleet.repo_url())] {
        let (status, body) = http(
            &fleet.url,
            "POST",
            "/api/v1/projects",
            Some(ADMIN),
            &json!({"name": name, "repo": repo}).to_string(),
        );
        assert_eq!(status, 201, "{body}");
    }
    let register = |name: &str| {
        let (status, body) = post(
            "/api/v1/agents/register",
            &json!({"name": name, "slots": 1}),
        );
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<Value>(&body).unwrap()["agent_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let claim = |agent: &str, project: &str| {
        let (status, body) = http(
            &fleet.url,
            "POST",
            &format!("/api/v1/projects/{project}/trigger"),
            Some(ADMIN),
            &json!({"ref": "main"}).to_string(),
        );
        assert_eq!(status, 201, "{body}");
        let (status, body) = post(
            "/api/v1/agents/claim",
            &json!({"agent_id": agent, "wait_ms": 5000}),
        );
        assert_eq!(status, 200, "{body}");
        let claim: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(claim["project"], project, "{claim}");
        claim
    };
    let hostile = register("hostile");
    let honest = register("honest");
    let held = claim(&hostile, "other");
    let theirs = claim(&honest, "demo");
    let key = "ab".repeat(32);
    let lease = |agent: &str, claim: &Value, body: Value| {
        let mut body = body;
        body["agent_id"] = json!(agent);
        body["attempt"] = claim["attempt"].clone();
        post(
            &format!(
                "/api/v1/jobs/{}/env-lease",
                claim["job_id"].as_str().unwrap()
            ),
            &body,
        )
    };
    // Naming the other project is refused outright.
    let (status, body) = lease(&hostile, &held, json!({"key": key, "project": "demo"}));
    assert_eq!(status, 400, "{body}");
    // Under a job it does not hold: the lease is gone as far as it is concerned.
    let (status, body) = lease(&hostile, &theirs, json!({"key": key}));
    assert_eq!(status, 410, "{body}");
    // Not a key: refused, naming the field.
    let (status, body) = lease(&hostile, &held, json!({"key": "../../v2/_catalog"}));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("`key`"), "{body}");
    // Its own job's project: granted, for `other` only.
    let (status, body) = lease(&hostile, &held, json!({"key": key}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["answer"],
        "build"
    );
    // The same key of `demo` is not held by it: the honest agent builds it.
    let (status, body) = lease(&honest, &theirs, json!({"key": key}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["answer"],
        "build",
        "{body}"
    );
    // A report of a digest for the other's job is refused like the lease.
    let built = json!({"agent_id": hostile, "attempt": theirs["attempt"], "key": key,
        "reference": format!("127.0.0.1:1/env/demo:{key}"), "digest": format!("sha256:{key}")});
    let path = format!(
        "/api/v1/jobs/{}/env-lease/built",
        theirs["job_id"].as_str().unwrap()
    );
    let (status, body) = post(&path, &built);
    assert_eq!(status, 410, "{body}");
    // Under its own job: a digest or reference that is not one is refused, naming the field;
    // nothing is recorded for it.
    let own = format!(
        "/api/v1/jobs/{}/env-lease/built",
        held["job_id"].as_str().unwrap()
    );
    let mut bad = built.clone();
    bad["attempt"] = held["attempt"].clone();
    for (field, value) in [
        ("digest", json!("sha256:../../etc")),
        ("digest", json!(key)),
        ("reference", json!("127.0.0.1:1/env/other:latest")),
    ] {
        let mut bad = bad.clone();
        bad[field] = value;
        let (status, body) = post(&own, &bad);
        assert_eq!(status, 400, "{field}: {body}");
        assert!(body.contains(&format!("`{field}`")), "{body}");
    }
    let listed: Value = serde_json::from_str(&fleet.cli_ok(&["env-images", "--json"])).unwrap();
    let holders: Vec<(String, bool)> = (listed.as_array().unwrap().iter())
        .map(|r| {
            let holder = r["lease_holder"].as_str().unwrap_or_default();
            (
                r["project"].as_str().unwrap().to_string(),
                holder.starts_with(&hostile),
            )
        })
        .collect();
    assert_eq!(
        holders,
        vec![("demo".to_string(), false), ("other".to_string(), true)]
    );
}

/// The env key of the fleet's pipeline, as the runner computes it from the work tree.
fn env_key_of(fleet: &Fleet) -> String {
    let work = fleet.dir.path().join("work");
    let pipeline = railyard_pipeline::load(&work.join(".railyard.yml")).unwrap();
    let Some(railyard_pipeline::EnvSource::Build(spec)) = pipeline.env.map(|e| e.source) else {
        panic!("the pipeline builds its env");
    };
    railyard_runner::env_image::cache_key(&work, &spec).unwrap()
}

/// An agent takes a key's build lease and dies (here: a client that stops calling): the
/// agent waiting for its push takes the lease over once it lapses, builds and pushes.
#[test]
fn a_lapsed_build_lease_is_taken_over() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let nonce = nonce();
    let jobs = "  held: { runs_on: [ghost], script: [\"true\"] }\n  only: { runs_on: [one], script: [cat /built] }\n";
    let mut fleet = start(&pipeline(&nonce, jobs));
    let key = env_key_of(&fleet);
    let _cleanup = Cleanup(Some(key.clone()));
    let run = trigger(&fleet);
    // The dying agent: it claims `held`, takes the key's lease, and is heard of no more.
    let post =
        |path: &str, body: &Value| http(&fleet.url, "POST", path, Some(AGENT), &body.to_string());
    let (status, body) = post(
        "/api/v1/agents/register",
        &json!({"name": "ghost", "slots": 1, "labels": ["ghost"]}),
    );
    assert_eq!(status, 200, "{body}");
    let ghost = serde_json::from_str::<Value>(&body).unwrap()["agent_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = post(
        "/api/v1/agents/claim",
        &json!({"agent_id": ghost, "wait_ms": 5000}),
    );
    assert_eq!(status, 200, "{body}");
    let claim: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(claim["job"], "held", "{claim}");
    let path = format!(
        "/api/v1/jobs/{}/env-lease",
        claim["job_id"].as_str().unwrap()
    );
    let (status, body) = post(
        &path,
        &json!({"agent_id": ghost, "attempt": claim["attempt"], "key": key}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["answer"],
        "build"
    );

    let url = format!("http://{}/fleet", registry.host);
    fleet.agent_with("one", &["--labels", "one", "--registry", &url]);
    let detail = wait_for(&fleet, &run, "the job's end", |d| {
        !matches!(
            job(d, "only")["status"].as_str(),
            Some("running" | "pending")
        )
    });
    let log = fleet.log(&run, "only");
    assert_eq!(job(&detail, "only")["status"], "success", "{detail}\n{log}");
    assert!(
        log.contains(&format!("another job builds this env image ({ghost}/")),
        "{log}"
    );
    let reference = format!("{}/fleet/env/demo:{key}", registry.host);
    let pushed = registry.manifest_digest("fleet/env/demo", &key).unwrap();
    assert_eq!(
        env_lines(&log),
        vec![format!(
            "[railyard] env ci/Dockerfile: built {reference}, pushed ({pushed})"
        )],
        "{log}"
    );
    let listed: Value = serde_json::from_str(&fleet.cli_ok(&["env-images", "--json"])).unwrap();
    let row = &listed[0];
    assert_eq!(row["digest"], pushed.as_str(), "{listed}");
    assert!(
        !row["built_by"].as_str().unwrap().starts_with(&ghost),
        "{listed}"
    );
    fleet.cli_ok(&["cancel", &run]);
    fleet.wait_run(&run, 120);
    assert_nothing_left(&run);
}
