//! Job networks on a subnet of their own, carved from the operator's range: far more jobs
//! at once than Docker's default pools hold (about 30), a job waiting when the range is
//! full, and a range other networks fill refused by name.

use crate::common::{Repo, docker, run_configured};
use railyard_runner::{Event, NetworkPool};
use railyard_types::{JobStatus, RunStatus};

/// `n` independent one-step jobs.
fn many_jobs(n: usize) -> Repo {
    let mut pipeline = String::from("env: { image: busybox }\njobs:\n");
    for i in 0..n {
        pipeline.push_str(&format!(
            "  j{i}:\n    script: [\"ip -4 addr show eth0 | grep -q inet\"]\n"
        ));
    }
    Repo::new(&pipeline)
}

fn pool(text: &str) -> NetworkPool {
    text.parse().unwrap()
}

#[tokio::test]
async fn two_hundred_jobs_at_once_each_get_a_network() {
    let repo = many_jobs(200);
    let ran = run_configured(&repo, &[], None, |opts| {
        opts.max_parallel = 200;
        opts.networks = pool("10.213.0.0/16:28");
    })
    .await;
    let failed: Vec<_> = ran
        .outcome
        .jobs
        .iter()
        .filter(|(_, r)| r.status != JobStatus::Success)
        .collect();
    assert!(failed.is_empty(), "{} failed: {failed:?}", failed.len());
    assert_eq!(ran.outcome.status, RunStatus::Success);
    assert_eq!(ran.outcome.jobs.len(), 200);
}

#[tokio::test]
async fn jobs_wait_for_a_free_subnet_when_the_range_is_full() {
    // Two /29 subnets for four jobs at once: two wait, then run on the freed ones.
    let repo = many_jobs(4);
    let ran = run_configured(&repo, &[], None, |opts| {
        opts.max_parallel = 4;
        opts.networks = pool("10.214.7.0/28:29");
    })
    .await;
    assert_eq!(ran.outcome.status, RunStatus::Success, "{:?}", ran.outcome);
    let waited = ran
        .events
        .iter()
        .filter(|e| matches!(e, Event::JobPhase { phase, .. } if phase.starts_with("waiting for a free network")))
        .count();
    assert!(waited >= 2, "two jobs at least waited: {waited}");
}

#[tokio::test]
async fn a_range_taken_by_other_networks_is_refused_by_name() {
    let docker = docker().await;
    let name = format!(
        "not-railyard-{}",
        ulid::Ulid::new().to_string().to_ascii_lowercase()
    );
    let labels = std::collections::HashMap::new();
    docker
        .create_network_in(&name, &labels, Some("10.214.9.0/28"))
        .await
        .unwrap();
    let repo = many_jobs(1);
    let ran = run_configured(&repo, &[], None, |opts| {
        opts.networks = pool("10.214.9.0/28:29");
    })
    .await;
    docker.remove_network(&name).await.unwrap();
    assert_eq!(ran.status("j0"), JobStatus::Failed);
    let error = ran.outcome.jobs["j0"].error.clone().unwrap_or_default();
    assert!(
        error.contains(&name) && error.contains("--network-pool"),
        "{error}"
    );
}
