//! Names and labels of the Docker objects of a run. Every object carries the run, the job and
//! the owning process, so leftovers can always be found and reaped.

use railyard_types::labels;
use std::collections::HashMap;

/// This process's owner label, `host:pid:pidns:start`: the host name, the PID, the PID
/// namespace's inode and the process's start time (clock ticks since boot). The host name
/// and PID alone collide: two processes in containers on one engine may share both, and a
/// PID is reused after its process ends.
pub fn owner() -> String {
    static OWNER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OWNER
        .get_or_init(|| {
            let pid = std::process::id();
            format!(
                "{}:{pid}:{}:{}",
                hostname(),
                pid_namespace().unwrap_or_default(),
                start_time(pid).unwrap_or_default()
            )
        })
        .clone()
}

/// This machine's host name.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The inode of this process's PID namespace (`pid:[4026531836]` -> `4026531836`), read once:
/// every reap asks it for each labelled object of the engine.
fn pid_namespace() -> Option<String> {
    static NAMESPACE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    NAMESPACE
        .get_or_init(|| {
            let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
            let link = link.to_str()?;
            let inode = link.strip_prefix("pid:[")?.strip_suffix(']')?;
            Some(inode.to_string())
        })
        .clone()
}

/// When process `pid` of this PID namespace started, in clock ticks since boot: field 22 of
/// `/proc/PID/stat`, counted after the command name (which may hold spaces and parentheses).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

/// Whether the process named by an owner label may still be alive: false only when it is
/// proven gone. Only a process on the same host and in the same PID namespace can tell;
/// owners elsewhere (another machine, another container on this engine) count as alive.
pub fn owner_is_alive(owner: &str) -> bool {
    let parts: Vec<&str> = owner.split(':').collect();
    match parts[..] {
        [host, pid, namespace, start] => {
            if host != hostname() || Some(namespace) != pid_namespace().as_deref() {
                return true;
            }
            match pid.parse::<u32>() {
                Ok(pid) => start_time(pid).as_deref() == Some(start),
                Err(_) => false,
            }
        }
        // Labels of Railyard before the namespace and start time were part of an owner.
        [host, pid] => {
            if host != hostname() {
                return true;
            }
            match pid.parse::<u32>() {
                Ok(pid) => std::path::Path::new(&format!("/proc/{pid}")).exists(),
                Err(_) => false,
            }
        }
        _ => false,
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

/// `ry-<run>-<job>-<tag>`: the tag tells apart jobs whose slugs collide (`a b` and `a-b`),
/// two processes running the same job on one engine (an agent whose lease lapsed while
/// frozen still holds its copy when another starts the next attempt), and two calls of one
/// process (two slots of an agent).
fn base_name(run_id: &str, job: &str, owner: &str, invocation: Option<&str>) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in [job, owner, invocation.unwrap_or("")] {
        hasher.update(part.as_bytes());
        hasher.update(b"\0");
    }
    let tag = &hasher.finalize().to_hex()[..6];
    format!("ry-{}-{}-{tag}", run_id.to_ascii_lowercase(), slug(job))
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
        Self {
            base: base_name(run_id, job, owner, None),
            run_id: run_id.to_string(),
            job: job.to_string(),
            owner: owner.to_string(),
            invocation: None,
        }
    }

    /// The same names, labelled with the runner call that creates them and named apart from
    /// every other call's.
    pub fn in_invocation(mut self, invocation: &str) -> Self {
        self.base = base_name(&self.run_id, &self.job, &self.owner, Some(invocation));
        self.invocation = Some(invocation.to_string());
        self
    }

    /// The names of another job (a shard, a listing) of the same run, owner and invocation.
    pub fn for_job(&self, job: &str) -> JobNames {
        let names = JobNames::new(&self.run_id, job, &self.owner);
        match &self.invocation {
            Some(invocation) => names.in_invocation(invocation),
            None => names,
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

    /// Filters matching every object of this job made by this owner in this invocation:
    /// two agents on one engine, or two slots of one agent (a lapsed attempt still running
    /// beside the next), running the same job of a run never tear down each other's objects.
    pub fn filters(&self) -> Vec<String> {
        let mut filters = vec![
            format!("{}={}", labels::RUN, self.run_id),
            format!("{}={}", labels::JOB, self.job),
            format!("{}={}", labels::OWNER, self.owner),
        ];
        if let Some(invocation) = &self.invocation {
            filters.push(format!("{}={invocation}", labels::INVOCATION));
        }
        filters
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
        let me = owner();
        assert!(owner_is_alive(&me));
        let [host, pid, ns, start] = me.split(':').collect::<Vec<_>>()[..] else {
            panic!("owner {me} is not host:pid:ns:start");
        };
        assert!(!ns.is_empty() && !start.is_empty(), "{me}");
        // A dead PID, and a live PID whose process started at another time (a reused PID).
        assert!(!owner_is_alive(&format!(
            "{host}:{}:{ns}:{start}",
            u32::MAX - 1
        )));
        assert!(!owner_is_alive(&format!("{host}:{pid}:{ns}:1{start}")));
        // Another PID namespace (a container on the same engine, same host name) can not
        // be checked from here: alive, even when its PID means nothing here.
        assert!(owner_is_alive(&format!(
            "{host}:{}:1{ns}:{start}",
            u32::MAX - 1
        )));
        assert!(owner_is_alive("some-other-host:1:2:3"));
        // Labels of older versions.
        assert!(!owner_is_alive(&format!("{}:{}", hostname(), u32::MAX - 1)));
        assert!(owner_is_alive("some-other-host:1"));
        assert!(!owner_is_alive("garbage"));
    }

    #[test]
    fn two_invocations_of_one_job_get_distinct_names() {
        let a = JobNames::new("01ABC", "test [1/2]", "h:1:2:3").in_invocation("i1");
        let b = JobNames::new("01ABC", "test [1/2]", "h:1:2:3").in_invocation("i2");
        assert_ne!(a.base, b.base);
        assert_ne!(a.filters(), b.filters());
        assert_eq!(
            a.for_job("x").filters().last(),
            Some(&"io.railyard.invocation=i1".to_string())
        );
    }
}
