//! An interactive shell in a throwaway busybox container: the manual check of
//! `Docker::exec_interactive` on a real terminal (raw mode, window size, exit code).
//!
//! `cargo run -p railyard-docker --example shell [IMAGE]`

use railyard_docker::{ContainerSpec, Docker, ExecSpec};
use std::collections::HashMap;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let image = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "busybox:latest".into());
    let docker = Docker::connect().await?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let run = format!("example-shell-{}", std::process::id());
    let spec = ContainerSpec {
        name: run.clone(),
        image,
        cmd: Some(vec!["sleep".into(), "3600".into()]),
        labels: HashMap::from([
            ("io.railyard.run".to_string(), run.clone()),
            (
                "io.railyard.owner".to_string(),
                format!("{}:{}", host.trim(), std::process::id()),
            ),
        ]),
        init: true,
        ..Default::default()
    };
    let id = docker.create_container(&spec).await?;
    let result = async {
        docker.start_container(&id).await?;
        let shell = ExecSpec {
            cmd: vec!["sh".into()],
            env: vec![("PS1".into(), "railyard$ ".into())],
            ..Default::default()
        };
        docker.exec_interactive(&id, &shell).await
    }
    .await;
    docker.remove_container(&id).await?;
    let code = result?;
    println!("shell exited with {code}");
    std::process::exit(code as i32);
}
