//! Isolation defaults: what a job container may and may not do.

use crate::common::{Repo, run};
use railyard_types::JobStatus;

#[tokio::test]
async fn job_containers_are_unprivileged_limited_and_blind_to_docker() {
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  probe:
    resources: { cpus: 0.5, memory: 256m }
    script:
      - grep NoNewPrivs /proc/self/status
      - cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max
      - cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes
      - test ! -e /var/run/docker.sock && echo no-socket
      - "ip link add dummy0 type dummy 2>/dev/null && echo privileged || echo unprivileged"
"#,
    );
    let ran = run(&repo).await;
    assert_eq!(ran.status("probe"), JobStatus::Success, "{:?}", ran.outcome);
    let out = ran.output("probe");
    assert_eq!(
        out[0].split_whitespace().collect::<Vec<_>>(),
        ["NoNewPrivs:", "1"]
    );
    assert_eq!(out[1], "4096");
    assert_eq!(out[2], (256 * 1024 * 1024).to_string());
    assert_eq!(out[3], "no-socket");
    assert_eq!(out[4], "unprivileged");
}

#[tokio::test]
async fn a_job_cannot_reach_another_runs_network() {
    // Run 1 serves on its job network; while it runs, the test reaches it from the host (so
    // it is up), then run 2's job tries the same address from its own network.
    let job = format!("server{}", crate::common::run_id());
    let server = Repo::new(&format!(
        "env: {{ image: busybox }}\njobs:\n  {job}:\n    script:\n      - mkdir -p /tmp/www && echo secret > /tmp/www/x\n      - httpd -p 8080 -h /tmp/www\n      - sleep 20\n"
    ));
    let first = tokio::spawn(async move { run(&server).await });

    let docker = crate::common::docker().await;
    let filter = format!("{}={job}", railyard_types::labels::JOB);
    let mut addr = None;
    for _ in 0..100 {
        let found = docker
            .list_labelled(std::slice::from_ref(&filter))
            .await
            .unwrap();
        if let Some(c) = found.containers.iter().find(|c| {
            c.labels
                .get(railyard_types::labels::ROLE)
                .map(String::as_str)
                == Some("job")
        }) {
            // Gone between the listing and now: the job ended (said below).
            let Ok(inspect) = docker.client().inspect_container(&c.id, None).await else {
                continue;
            };
            let nets = inspect
                .network_settings
                .and_then(|n| n.networks)
                .unwrap_or_default();
            addr = nets
                .values()
                .find_map(|n| n.ip_address.clone().filter(|a| !a.is_empty()));
            if addr.is_some() {
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let Some(addr) = addr else {
        panic!(
            "the server job's container never had an address: {:?}",
            first.await.unwrap().outcome
        );
    };
    // From the host the server answers once httpd is up.
    let mut reached_from_host = false;
    for _ in 0..50 {
        if std::net::TcpStream::connect_timeout(
            &format!("{addr}:8080").parse().unwrap(),
            std::time::Duration::from_millis(300),
        )
        .is_ok()
        {
            reached_from_host = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        reached_from_host,
        "the server job never listened on {addr}:8080"
    );

    let client = Repo::new(&format!(
        "env: {{ image: busybox }}\njobs:\n  client:\n    script:\n      - \"wget -T 3 -q -O - http://{addr}:8080/x && echo reached || echo unreachable\"\n"
    ));
    let second = run(&client).await;
    let out = second.output("client");
    // stderr (wget's complaint) and stdout may interleave either way: look at the content.
    assert!(out.contains(&"unreachable".to_string()), "{out:?}");
    assert!(
        !out.contains(&"secret".to_string()) && !out.contains(&"reached".to_string()),
        "{out:?}"
    );
    let first = first.await.unwrap();
    assert_eq!(
        first.status(&job),
        JobStatus::Success,
        "{:?}",
        first.outcome
    );
}

/// The operator's allowance: a job without `resources` gets the default memory and CPUs, a
/// job asking for more than the maximum fails naming what it asked and what is allowed, and
/// every container loses the capabilities no build needs (device nodes, raw sockets).
#[tokio::test]
async fn jobs_get_the_operators_defaults_and_never_more_than_the_maximum() {
    let repo = Repo::new(
        "env: { image: busybox }\njobs:\n  plain:\n    script:\n      - cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max\n      - if mknod /tmp/null c 1 3; then echo made a device; fi\n  greedy:\n    resources: { memory: 512m }\n    script: [echo ran]\n",
    );
    let ran = crate::common::run_configured(&repo, &[], None, |opts| {
        opts.allowance = railyard_runner::Allowance {
            memory: Some(64 << 20),
            max_memory: Some(256 << 20),
            cpus: Some(0.5),
            max_cpus: Some(1.0),
            build_memory: None,
            ..Default::default()
        };
    })
    .await;
    assert_eq!(ran.status("plain"), JobStatus::Success);
    let out = ran.output("plain");
    assert!(out.contains(&(64u64 << 20).to_string()), "{out:?}");
    assert!(!out.iter().any(|l| l.contains("made a device")), "{out:?}");
    assert_eq!(ran.status("greedy"), JobStatus::Failed);
    let error = ran.outcome.jobs["greedy"].error.clone().unwrap_or_default();
    assert!(error.contains("512m") && error.contains("256m"), "{error}");
    assert!(!ran.output("greedy").contains(&"ran".to_string()));
}
