//! The one helper every engine test goes through.

use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
use railyard_docker::{ContainerSpec, Docker, ExecSpec, Output};
use std::collections::HashMap;

pub const RUN_LABEL: &str = "io.railyard.run";

/// A test's own slice of the engine: a unique run id and the labels that carry it.
pub struct TestRun {
    pub docker: Docker,
    pub id: String,
    finished: bool,
}

impl TestRun {
    pub async fn new() -> TestRun {
        let docker = Docker::connect()
            .await
            .expect("the Docker engine must be reachable");
        TestRun {
            docker,
            id: format!(
                "dockertest-{}",
                ulid::Ulid::new().to_string().to_lowercase()
            ),
            finished: false,
        }
    }

    pub fn labels(&self) -> HashMap<String, String> {
        HashMap::from([
            (RUN_LABEL.to_string(), self.id.clone()),
            // `host:pid` of a live process, as the runner writes it: other suites reap
            // objects whose owner is dead or unreadable, even while this test runs.
            ("io.railyard.owner".to_string(), owner()),
            (
                "io.railyard.test".to_string(),
                "railyard-docker".to_string(),
            ),
        ])
    }

    pub fn filter(&self) -> Vec<String> {
        vec![format!("{RUN_LABEL}={}", self.id)]
    }

    /// A unique object name.
    pub fn name(&self, what: &str) -> String {
        format!("{}-{what}", self.id)
    }

    /// A busybox container kept alive, labelled, not started.
    pub fn sleeper(&self, what: &str) -> ContainerSpec {
        ContainerSpec {
            name: self.name(what),
            image: "busybox:latest".into(),
            cmd: Some(vec!["sleep".into(), "300".into()]),
            labels: self.labels(),
            init: true,
            ..Default::default()
        }
    }

    /// Creates and starts a container; returns its id.
    pub async fn start(&self, spec: &ContainerSpec) -> String {
        let id = self.docker.create_container(spec).await.unwrap();
        self.docker.start_container(&id).await.unwrap();
        id
    }

    /// Runs a command, returning (exit code, stdout, stderr).
    pub async fn sh(&self, container: &str, script: &str) -> (i64, String, String) {
        let spec = ExecSpec {
            cmd: vec!["sh".into(), "-c".into(), script.into()],
            ..Default::default()
        };
        exec_collect(&self.docker, container, &spec).await
    }

    /// Removes everything labelled with this run (images too) and asserts nothing is left.
    pub async fn finish(mut self) {
        self.finished = true;
        cleanup(&self.docker, &self.id).await;
        let left = self.docker.list_labelled(&self.filter()).await.unwrap();
        assert!(left.is_empty(), "left behind by {}: {left:?}", self.id);
        assert!(labelled_images(&self.docker, &self.id).await.is_empty());
    }
}

impl Drop for TestRun {
    /// A failed test still cleans up (on a runtime of its own: this runs inside one).
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let id = self.id.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                if let Ok(docker) = Docker::connect().await {
                    cleanup(&docker, &id).await;
                }
            });
        })
        .join();
    }
}

fn owner() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

pub async fn exec_collect(
    docker: &Docker,
    container: &str,
    spec: &ExecSpec,
) -> (i64, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = docker
        .exec(container, spec, &mut |o| match o {
            Output::Stdout(b) => out.extend_from_slice(&b),
            Output::Stderr(b) => err.extend_from_slice(&b),
        })
        .await
        .unwrap();
    (
        code,
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
    )
}

async fn cleanup(docker: &Docker, id: &str) {
    let filter = vec![format!("{RUN_LABEL}={id}")];
    if let Ok(found) = docker.list_labelled(&filter).await {
        let _ = docker.remove_labelled(&found).await;
    }
    for image in labelled_images(docker, id).await {
        let options = RemoveImageOptionsBuilder::default().force(true).build();
        let _ = docker
            .client()
            .remove_image(&image, Some(options), None)
            .await;
    }
}

async fn labelled_images(docker: &Docker, id: &str) -> Vec<String> {
    let filters = HashMap::from([("label", vec![format!("{RUN_LABEL}={id}")])]);
    let options = ListImagesOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    docker
        .client()
        .list_images(Some(options))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect()
}
