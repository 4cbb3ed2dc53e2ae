use crate::common::TestRun;
use railyard_docker::{DockerError, Limits, VolumeMount};

#[tokio::test]
async fn a_service_is_reachable_by_its_alias_only_from_its_own_network() {
    let run = TestRun::new().await;
    let net = run.name("net");
    run.docker
        .create_network(&net, &run.labels())
        .await
        .unwrap();

    let mut db = run.sleeper("db");
    db.network = Some(net.clone());
    db.network_aliases = vec!["db".into()];
    let db_id = run.start(&db).await;
    let inspect = run
        .docker
        .client()
        .inspect_container(&db_id, None)
        .await
        .unwrap();
    let ip = inspect.network_settings.unwrap().networks.unwrap()[&net]
        .ip_address
        .clone()
        .unwrap();
    assert!(!ip.is_empty());

    // The alias resolves to the service on its own network (containers have no NET_RAW,
    // so no ping; reaching it by address from another network is the runner's isolation
    // test, through real jobs).
    let mut job = run.sleeper("job");
    job.network = Some(net.clone());
    let job = run.start(&job).await;
    let (code, out, err) = run.sh(&job, "nslookup db").await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&ip), "{out}");

    // A container of another run, on another network, cannot even resolve the name.
    let other_net = run.name("other-net");
    run.docker
        .create_network(&other_net, &run.labels())
        .await
        .unwrap();
    let mut outsider = run.sleeper("outsider");
    outsider.network = Some(other_net);
    let outsider = run.start(&outsider).await;
    let (_, out, _) = run.sh(&outsider, "nslookup db").await;
    assert!(!out.contains(&ip), "another network resolved db: {out}");
    run.finish().await;
}

#[tokio::test]
async fn every_container_gets_the_isolation_rules() {
    let run = TestRun::new().await;
    let vol = run.name("vol");
    run.docker.create_volume(&vol, &run.labels()).await.unwrap();
    let mut spec = run.sleeper("isolated");
    spec.limits = Limits {
        nano_cpus: Some(500_000_000),
        memory_bytes: Some(64 * 1024 * 1024),
        pids: 0,
    };
    spec.mounts = vec![VolumeMount {
        volume: vol.clone(),
        target: "/workspace".into(),
    }];
    spec.working_dir = Some("/workspace".into());
    spec.env = vec![("GREETING".into(), "hi there".into())];
    let id = run.start(&spec).await;

    let inspect = run
        .docker
        .client()
        .inspect_container(&id, None)
        .await
        .unwrap();
    let hc = inspect.host_config.unwrap();
    assert_eq!(hc.privileged, Some(false));
    assert_eq!(hc.security_opt, Some(vec!["no-new-privileges".to_string()]));
    assert_eq!(hc.pids_limit, Some(4096));
    assert_eq!(hc.memory, Some(64 * 1024 * 1024));
    assert_eq!(hc.nano_cpus, Some(500_000_000));
    assert!(hc.binds.unwrap_or_default().is_empty());
    let mounts = inspect.mounts.unwrap();
    assert_eq!(mounts.len(), 1);
    assert_eq!(mounts[0].name.as_deref(), Some(vol.as_str()));

    // And the kernel agrees.
    let (code, out, _) = run
        .sh(
            &id,
            "grep NoNewPrivs /proc/self/status; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null \
             || cat /sys/fs/cgroup/pids.max; pwd; echo \"$GREETING\"",
        )
        .await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "NoNewPrivs:\t1\n4096\n/workspace\nhi there\n");
    run.finish().await;
}

#[tokio::test]
async fn host_paths_cannot_be_mounted() {
    let run = TestRun::new().await;
    let mut spec = run.sleeper("sneaky");
    spec.mounts = vec![VolumeMount {
        volume: "/var/run/docker.sock".into(),
        target: "/var/run/docker.sock".into(),
    }];
    let err = run.docker.create_container(&spec).await.unwrap_err();
    assert!(matches!(err, DockerError::InvalidSpec { .. }), "{err:?}");
    run.finish().await;
}

#[tokio::test]
async fn logs_tail_returns_the_last_lines() {
    let run = TestRun::new().await;
    let mut spec = run.sleeper("talker");
    spec.cmd = Some(vec![
        "sh".into(),
        "-c".into(),
        // Docker orders stdout against stderr only by arrival: keep them apart in time.
        "echo oops >&2; sleep 0.3; for i in 1 2 3 4 5; do echo line$i; done; sleep 300".into(),
    ]);
    let id = run.start(&spec).await;
    let mut all = Vec::new();
    for _ in 0..600 {
        all = run.docker.logs_tail(&id, 10).await.unwrap();
        if all.len() == 6 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        all,
        ["oops", "line1", "line2", "line3", "line4", "line5"],
        "{all:?}"
    );
    let last = run.docker.logs_tail(&id, 2).await.unwrap();
    assert_eq!(last, ["line4", "line5"]);
    run.finish().await;
}

#[tokio::test]
async fn removing_what_is_gone_is_fine_and_missing_things_are_named() {
    let run = TestRun::new().await;
    run.docker
        .remove_container(&run.name("never"))
        .await
        .unwrap();
    run.docker.remove_network(&run.name("never")).await.unwrap();
    run.docker.remove_volume(&run.name("never")).await.unwrap();

    let mut spec = run.sleeper("no-image");
    spec.image = format!("railyard-test-no-such-image-{}:1", run.id);
    let err = run.docker.create_container(&spec).await.unwrap_err();
    assert!(
        matches!(err, DockerError::NotFound { kind: "image", .. }),
        "{err:?}"
    );

    let err = run
        .docker
        .start_container(&run.name("never"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DockerError::NotFound {
                kind: "container",
                ..
            }
        ),
        "{err:?}"
    );

    let net = run.name("net-twice");
    run.docker
        .create_network(&net, &run.labels())
        .await
        .unwrap();
    let err = run
        .docker
        .create_network(&net, &run.labels())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DockerError::Conflict {
                kind: "network",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        run.docker
            .list_labelled(&run.filter())
            .await
            .unwrap()
            .networks
            .len(),
        1
    );

    let spec = run.sleeper("twice");
    run.docker.create_container(&spec).await.unwrap();
    let err = run.docker.create_container(&spec).await.unwrap_err();
    assert!(
        matches!(
            err,
            DockerError::Conflict {
                kind: "container",
                ..
            }
        ),
        "{err:?}"
    );
    run.finish().await;
}

#[tokio::test]
async fn container_state_tells_how_a_container_ended() {
    let run = TestRun::new().await;
    let running = run.start(&run.sleeper("up")).await;
    let state = run.docker.container_state(&running).await.unwrap();
    assert!(state.running && state.exit_code.is_none(), "{state:?}");

    let mut spec = run.sleeper("quitter");
    spec.cmd = Some(vec!["sh".into(), "-c".into(), "exit 7".into()]);
    let quitter = run.start(&spec).await;
    let mut state = run.docker.container_state(&quitter).await.unwrap();
    for _ in 0..100 {
        if !state.running {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        state = run.docker.container_state(&quitter).await.unwrap();
    }
    assert_eq!(
        (state.running, state.exit_code, state.oom_killed),
        (false, Some(7), false)
    );
    run.finish().await;
}

#[tokio::test]
async fn the_memory_limit_is_enforced() {
    let run = TestRun::new().await;
    let mut spec = run.sleeper("small");
    spec.limits.memory_bytes = Some(16 * 1024 * 1024);
    let id = run.start(&spec).await;
    // dd touches its whole 64 MiB buffer: the kernel kills it, and only it.
    let (code, _, err) = run
        .sh(&id, "dd if=/dev/zero of=/dev/null bs=64M count=1")
        .await;
    assert_eq!(code, 137, "{err}");
    let (code, out, _) = run.sh(&id, "echo still up").await;
    assert_eq!((code, out.as_str()), (0, "still up\n"));
    run.finish().await;
}
