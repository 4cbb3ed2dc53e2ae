//! Rough figures for this layer, next to the docker CLI doing the same: an exec round trip,
//! and collecting + packing a 1,000-file build context. Not a benchmark suite (see `bench/`).
//!
//! `cargo run --release -p railyard-docker --example timings`

use railyard_docker::{ContainerSpec, Docker, ExecSpec, context};
use std::collections::HashMap;
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let docker = Docker::connect().await?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let run = format!("example-timings-{}", std::process::id());
    let spec = ContainerSpec {
        name: run.clone(),
        image: "busybox:latest".into(),
        cmd: Some(vec!["sleep".into(), "600".into()]),
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
    docker.start_container(&id).await?;
    let n = 20;
    let exec = ExecSpec {
        cmd: vec!["true".into()],
        ..Default::default()
    };
    let start = Instant::now();
    for _ in 0..n {
        docker.exec(&id, &exec, &mut |_| {}).await?;
    }
    let ours = start.elapsed() / n;
    let start = Instant::now();
    for _ in 0..n {
        std::process::Command::new("docker")
            .args(["exec", &id, "true"])
            .status()?;
    }
    let cli = start.elapsed() / n;
    docker.remove_container(&id).await?;
    println!("exec `true`: {ours:?} per call here, {cli:?} with `docker exec`");

    let dir = tempfile_dir()?;
    for i in 0..1000 {
        let sub = dir.join(format!("d{}", i % 20));
        std::fs::create_dir_all(&sub)?;
        std::fs::write(
            sub.join(format!("f{i}.txt")),
            format!("file {i}\n").repeat(20),
        )?;
    }
    std::fs::write(
        dir.join(".dockerignore"),
        "*.log\n**/f99*.txt\n!d1/f991.txt\n",
    )?;
    let start = Instant::now();
    let files = context::collect(&dir)?;
    let collected = start.elapsed();
    let start = Instant::now();
    let tar = context::tar(&files, &[])?;
    let packed = start.elapsed();
    println!(
        "context of {} entries: collect {collected:?}, tar {packed:?} ({} KiB)",
        files.len(),
        tar.len() / 1024
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("railyard-timings-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
