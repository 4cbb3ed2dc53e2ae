//! What Docker still holds of a run.

use std::process::Command;

/// Asserts that nothing of the run is left on the engine: no object labelled with it, and
/// none named after it (`ry-<run>-…`) without labels, out of every cleanup's reach.
pub fn assert_nothing_left(run_id: &str) {
    let name = format!("ry-{}-", run_id.to_ascii_lowercase());
    for (kind, field) in [
        ("ps -a", "{{.Names}}"),
        ("network ls", "{{.Name}}"),
        ("volume ls", "{{.Name}}"),
    ] {
        let mut args: Vec<&str> = kind.split(' ').collect();
        let filter = format!("label=io.railyard.run={run_id}");
        args.extend(["-q", "--filter", &filter]);
        let out = Command::new("docker").args(&args).output().unwrap();
        assert!(
            out.stdout.is_empty(),
            "docker {kind} still lists objects of run {run_id}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let mut args: Vec<&str> = kind.split(' ').collect();
        let filter = format!("name={name}");
        args.extend(["--filter", &filter, "--format", field]);
        let out = Command::new("docker").args(&args).output().unwrap();
        let named = String::from_utf8_lossy(&out.stdout);
        // `name=` matches anywhere in the name: keep those that start with it.
        let named: Vec<&str> = named.lines().filter(|n| n.starts_with(&name)).collect();
        assert!(
            named.is_empty(),
            "docker {kind} still lists objects named after run {run_id}: {named:?}"
        );
    }
}

/// Removes images from the engine when dropped, so that a test which fails half-way (an
/// assertion before its own `docker rmi`) still leaves the images it made behind it.
#[derive(Debug, Default)]
pub struct RemoveImages(Vec<String>);

impl RemoveImages {
    /// A guard for these references (`repo:tag` or an image ID).
    pub fn new(references: impl IntoIterator<Item = impl Into<String>>) -> RemoveImages {
        RemoveImages(references.into_iter().map(Into::into).collect())
    }
}

impl Drop for RemoveImages {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = Command::new("docker")
                .args(["rmi", "-f"])
                .args(&self.0)
                .output();
        }
    }
}
