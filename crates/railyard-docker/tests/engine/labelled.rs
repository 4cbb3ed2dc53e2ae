use crate::common::TestRun;

#[tokio::test]
async fn finds_and_removes_exactly_what_carries_the_labels() {
    let run = TestRun::new().await;
    let net = run.name("net");
    let vol = run.name("vol");
    run.docker
        .create_network(&net, &run.labels())
        .await
        .unwrap();
    run.docker.create_volume(&vol, &run.labels()).await.unwrap();
    let mut spec = run.sleeper("c");
    spec.network = Some(net.clone());
    spec.mounts = vec![railyard_docker::VolumeMount {
        volume: vol.clone(),
        target: "/data".into(),
    }];
    run.start(&spec).await;

    // A key filter alone and a key=value filter both find them.
    let any_run = run
        .docker
        .list_labelled(&[
            "io.railyard.test=railyard-docker".to_string(),
            "io.railyard.run".to_string(),
        ])
        .await
        .unwrap();
    assert!(any_run.containers.iter().any(|c| c.name == spec.name));
    let found = run.docker.list_labelled(&run.filter()).await.unwrap();
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found.containers[0].name, spec.name);
    assert_eq!(found.networks[0].name, net);
    assert_eq!(found.volumes[0].name, vol);
    assert_eq!(
        found.volumes[0].labels.get("io.railyard.run"),
        Some(&run.id)
    );

    // The running container holds the network and the volume: containers go first.
    let report = run.docker.remove_labelled(&found).await.unwrap();
    assert_eq!(
        (report.containers, report.networks, report.volumes),
        (1, 1, 1),
        "{report:?}"
    );
    assert!(report.failures.is_empty(), "{report:?}");
    assert!(
        run.docker
            .list_labelled(&run.filter())
            .await
            .unwrap()
            .is_empty()
    );
    run.finish().await;
}
