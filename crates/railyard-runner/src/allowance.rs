//! What the operator of a machine allows each job: a default for the memory and CPUs a
//! pipeline leaves unset (a job without `resources` could otherwise take the whole machine,
//! and every other job on it with it), and a maximum a pipeline may not pass.

use crate::errors::RunnerError;
use railyard_docker::Limits;
use railyard_pipeline::Resources;

/// The pids limit of job and service containers: enough for any build, not for a fork bomb.
const PIDS_LIMIT: i64 = railyard_docker::DEFAULT_PIDS_LIMIT;

/// The most bytes a job's artifacts may hold in all (and a job may be handed from its
/// needs), unless the operator sets another bound: a pipeline is untrusted, and one
/// `dd` could otherwise fill the agent's disk.
pub const DEFAULT_MAX_ARTIFACT_BYTES: u64 = 1 << 30;

/// The most files and folders a job's artifacts may hold in all (and a job may be handed
/// from its needs), unless the operator sets another bound.
pub const DEFAULT_MAX_ARTIFACT_FILES: u64 = 10_000;

/// Defaults and maxima for jobs, their services and env image builds. `None` leaves a
/// value unlimited; [`Allowance::default`] limits nothing but artifacts, which are bounded
/// by [`DEFAULT_MAX_ARTIFACT_BYTES`] and [`DEFAULT_MAX_ARTIFACT_FILES`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allowance {
    /// Memory of a job (and of each of its services) whose `resources` says none, in bytes.
    pub memory: Option<u64>,
    /// The most memory a job may ask for, in bytes.
    pub max_memory: Option<u64>,
    /// CPUs of a job whose `resources` says none.
    pub cpus: Option<f64>,
    /// The most CPUs a job may ask for.
    pub max_cpus: Option<f64>,
    /// Memory of each `RUN` step of an env image build, in bytes.
    pub build_memory: Option<u64>,
    /// The most bytes of artifacts a job may keep, and be handed from its needs, in all.
    pub max_artifact_bytes: Option<u64>,
    /// The most files and folders of artifacts a job may keep, and be handed, in all.
    pub max_artifact_files: Option<u64>,
}

impl Default for Allowance {
    fn default() -> Self {
        Allowance {
            memory: None,
            max_memory: None,
            cpus: None,
            max_cpus: None,
            build_memory: None,
            max_artifact_bytes: Some(DEFAULT_MAX_ARTIFACT_BYTES),
            max_artifact_files: Some(DEFAULT_MAX_ARTIFACT_FILES),
        }
    }
}

impl Allowance {
    /// The limits of job `job`'s containers: what its `resources` ask, else the defaults;
    /// an error when it asks for more than the maximum.
    pub fn limits_for(&self, job: &str, resources: &Resources) -> Result<Limits, RunnerError> {
        let too_much = |what: &str, asked: String, max: String| RunnerError::OverAllowance {
            job: job.to_string(),
            what: what.to_string(),
            asked,
            max,
        };
        if let (Some(asked), Some(max)) = (resources.memory, self.max_memory)
            && asked > max
        {
            let show = railyard_pipeline::format_memory;
            return Err(too_much("memory", show(asked), show(max)));
        }
        if let (Some(asked), Some(max)) = (resources.cpus, self.max_cpus)
            && asked > max
        {
            return Err(too_much("cpus", asked.to_string(), max.to_string()));
        }
        let memory = resources.memory.or(self.memory);
        let cpus = resources.cpus.or(self.cpus);
        Ok(Limits {
            nano_cpus: cpus.map(|c| (c * 1e9) as i64),
            memory_bytes: memory.map(|m| m as i64),
            pids: PIDS_LIMIT,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_gets_what_it_asks_within_the_maximum_else_the_default() {
        let allowance = Allowance {
            memory: Some(1 << 30),
            max_memory: Some(4 << 30),
            cpus: Some(1.0),
            max_cpus: Some(2.0),
            build_memory: None,
            ..Allowance::default()
        };
        let unset = allowance.limits_for("a", &Resources::default()).unwrap();
        assert_eq!(unset.memory_bytes, Some(1 << 30));
        assert_eq!(unset.nano_cpus, Some(1_000_000_000));
        let asked = Resources {
            cpus: Some(1.5),
            memory: Some(2 << 30),
        };
        let limits = allowance.limits_for("a", &asked).unwrap();
        assert_eq!(limits.memory_bytes, Some(2 << 30));
        assert_eq!(limits.nano_cpus, Some(1_500_000_000));
        let greedy = Resources {
            cpus: None,
            memory: Some(8 << 30),
        };
        let err = allowance
            .limits_for("build", &greedy)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("build") && err.contains("8g") && err.contains("4g"),
            "{err}"
        );
        let unlimited = Allowance::default()
            .limits_for("a", &Resources::default())
            .unwrap();
        assert_eq!((unlimited.memory_bytes, unlimited.nano_cpus), (None, None));
    }
}
