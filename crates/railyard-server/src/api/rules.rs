//! The pipeline's `when:` rules, judged once as a run starts: a job whose rule does not
//! match the run's context is queued already ended `skipped`, told why, and the run model
//! skips the jobs that need it. The same [`railyard_pipeline::When::check`] judges a local
//! `railyard run`, so a job skips for the same reason on a laptop and on the fleet.

use railyard_pipeline::Job;
use railyard_types::context::RunContext;

/// Why `job` does not run in a run of `context`; `None` when it runs.
pub(crate) fn skipped(job: &Job, context: &RunContext) -> Option<String> {
    job.when.as_ref()?.check(context).err()
}
