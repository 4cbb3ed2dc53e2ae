//! Names and labels of the Docker objects of a run. Every object carries the run, the job and
//! the owning process, so leftovers can always be found and reaped.

use railyard_types::labels;
use std::collections::HashMap;

/// `host:pid` of this process, the owner label of everything it creates.
pub fn owner() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

/// This machine's host name.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// Whether the process named by an owner label is still alive. Owners on other hosts are
/// assumed alive: only their own machine can tell.
pub fn owner_is_alive(owner: &str) -> bool {
    let Some((host, pid)) = owner.rsplit_once(':') else {
        return false;
    };
    if host != hostname() {
        return true;
    }
    match pid.parse::<u32>() {
        Ok(pid) => std::path::Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
    }
}

/// A job name made safe for Docker object names (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`).
pub fn slug(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "job".into() } else { out }
}

/// The folder under a run's artifacts for `job`: the name itself when it is a plain file
/// name (matrix names with spaces and parentheses are), else its slug and a hash of the name,
/// so that two jobs never share a folder.
pub fn artifacts_folder(job: &str) -> String {
    let plain = !job.is_empty()
        && job != "."
        && job != ".."
        && !job.chars().any(|c| c == '/' || c == '\\' || c.is_control());
    if plain {
        job.to_string()
    } else {
        format!(
            "{}-{}",
            slug(job),
            &blake3::hash(job.as_bytes()).to_hex()[..6]
        )
    }
}

/// The names and labels of one job's objects.
#[derive(Debug, Clone)]
pub struct JobNames {
    /// `ry-<run>-<job>`: the network, and the prefix of the other names.
    pub base: String,
    run_id: String,
    job: String,
    owner: String,
    invocation: Option<String>,
}

impl JobNames {
    /// Names for `job` of run `run_id`, owned by `owner`.
    pub fn new(run_id: &str, job: &str, owner: &str) -> Self {
        // Names must differ between jobs whose slugs collide (`a b` and `a-b`), and between
        // two processes running the same job on one engine (an agent whose lease lapsed
        // while frozen still holds its copy when another agent starts the next attempt).
        let mut hasher = blake3::Hasher::new();
        hasher.update(job.as_bytes());
        hasher.update(b"\0");
        hasher.update(owner.as_bytes());
        let tag = &hasher.finalize().to_hex()[..6];
        Self {
            base: format!("ry-{}-{}-{tag}", run_id.to_ascii_lowercase(), slug(job)),
            run_id: run_id.to_string(),
            job: job.to_string(),
            owner: owner.to_string(),
            invocation: None,
        }
    }

    /// The same names, labelled with the runner call that creates them.
    pub fn in_invocation(mut self, invocation: &str) -> Self {
        self.invocation = Some(invocation.to_string());
        self
    }

    /// The names of another job (a shard, a listing) of the same run and owner.
    pub fn for_job(&self, job: &str) -> JobNames {
        JobNames {
            invocation: self.invocation.clone(),
            ..JobNames::new(&self.run_id, job, &self.owner)
        }
    }

    /// The job container's name.
    pub fn job_container(&self) -> String {
        format!("{}-job", self.base)
    }

    /// A service container's name.
    pub fn service_container(&self, service: &str) -> String {
        format!("{}-svc-{}", self.base, slug(service))
    }

    /// The workspace volume's name.
    pub fn workspace_volume(&self) -> String {
        format!("{}-ws", self.base)
    }

    /// The labels of an object of this job with the given role.
    pub fn labels(&self, role: &str) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (labels::RUN.to_string(), self.run_id.clone()),
            (labels::JOB.to_string(), self.job.clone()),
            (labels::OWNER.to_string(), self.owner.clone()),
            (labels::ROLE.to_string(), role.to_string()),
        ]);
        if let Some(invocation) = &self.invocation {
            labels.insert(labels::INVOCATION.to_string(), invocation.clone());
        }
        labels
    }

    /// Filters matching every object of this job made by this owner: two agents on one
    /// engine running the same job of a run (each shard lists the job's tests as
    /// `test (list)`) never tear down each other's objects.
    pub fn filters(&self) -> Vec<String> {
        vec![
            format!("{}={}", labels::RUN, self.run_id),
            format!("{}={}", labels::JOB, self.job),
            format!("{}={}", labels::OWNER, self.owner),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_docker_safe() {
        assert_eq!(slug("Test (A=1, B=x/y)"), "test-a-1-b-x-y");
        assert_eq!(slug("  "), "job");
        assert_eq!(slug("build_2.x"), "build_2.x");
    }

    #[test]
    fn artifacts_folders_are_distinct_per_job() {
        assert_eq!(artifacts_folder("build"), "build");
        assert_eq!(artifacts_folder("test (os=a, v=1)"), "test (os=a, v=1)");
        assert_ne!(artifacts_folder("Build"), artifacts_folder("build"));
        let climbing = artifacts_folder("../x");
        assert!(!climbing.contains('/'), "{climbing}");
        assert_ne!(artifacts_folder("a/b"), artifacts_folder("a-b"));
        assert_ne!(artifacts_folder(".."), "..");
    }

    #[test]
    fn colliding_slugs_get_distinct_names() {
        let a = JobNames::new("01ABC", "a b", "h:1");
        let b = JobNames::new("01ABC", "a-b", "h:1");
        assert_ne!(a.base, b.base);
        let other_owner = JobNames::new("01ABC", "a b", "h:2");
        assert_ne!(a.base, other_owner.base);
    }

    #[test]
    fn own_process_is_alive_and_a_dead_pid_is_not() {
        assert!(owner_is_alive(&owner()));
        assert!(!owner_is_alive(&format!("{}:{}", hostname(), u32::MAX - 1)));
        assert!(owner_is_alive("some-other-host:1"));
        assert!(!owner_is_alive("garbage"));
    }
}
