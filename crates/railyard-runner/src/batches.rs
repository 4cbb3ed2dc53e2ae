//! Running a shard's share of a job's tests: batches from a static plan or a shared queue,
//! each one `exec` of the job's `run` template, their JUnit reports read back for timings
//! and failures, and failing ids rerun up to `retry_failed` times (flaky when they pass).

use crate::errors::RunnerError;
use crate::events::Event;
use crate::job::{CurrentStep, JobContext};
use railyard_pipeline::TestsSpec;
use railyard_split::{Batch, IdFormat, TestCase, TestQueue, shell_quote};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Where a batch's ids are written in the job container (`$RAILYARD_TESTS_FILE`).
pub const TESTS_FILE: &str = "/tmp/railyard-tests.txt";

/// Where a shard's tests come from.
#[derive(Clone)]
pub enum Work {
    /// A fixed share, with its predicted seconds.
    Static(Vec<String>, f64),
    /// Batches pulled from a queue shared by every shard of the job.
    Queue(Arc<dyn TestQueue>),
}

/// What a shard is asked to test.
#[derive(Clone)]
pub struct ShardTests {
    /// The job's `tests` block.
    pub spec: TestsSpec,
    /// The job's name (timings are kept per job's tests, not per shard).
    pub job: String,
    /// 1-based shard number.
    pub shard: u32,
    /// Its work.
    pub work: Work,
    /// How many reruns of failing ids.
    pub retry_failed: u32,
}

/// How a shard's tests ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TestsOutcome {
    /// Ids still failing after the retries.
    pub failed: Vec<String>,
    /// Ids that passed only on a retry.
    pub flaky: Vec<String>,
}

/// The command that runs one batch: writes the ids to `$RAILYARD_TESTS_FILE`, then runs the
/// template with `{tests}` expanded; and how it is shown.
pub fn batch_command(run: &str, ids: &[String]) -> (String, String) {
    let quoted: Vec<String> = ids.iter().map(|i| shell_quote(i)).collect();
    let command = format!(
        "printf '%s\\n' {} > \"$RAILYARD_TESTS_FILE\"\n{}",
        quoted.join(" "),
        railyard_split::expand_tests(run, ids)
    );
    let shown = run.replace("{tests}", &format!("<{} tests>", ids.len()));
    (command, shown)
}

impl JobContext {
    /// Runs this shard's tests after its steps; `first_step` numbers the batches after them.
    pub async fn run_tests(
        &self,
        container: &str,
        current: &CurrentStep,
        tests: &ShardTests,
        first_step: u32,
    ) -> Result<TestsOutcome, RunnerError> {
        let started = Instant::now();
        let mut step = first_step;
        let mut format = parse_format(tests.spec.id_format.as_deref());
        let mut ran = 0usize;
        let mut failed: Vec<String> = Vec::new();
        let mut first_run: Vec<TestCase> = Vec::new();
        // A static share is one batch; a queue hands out batches until it is empty.
        let (predicted, mut share) = match &tests.work {
            Work::Static(ids, secs) => (Some(*secs), Some(ids.clone()).filter(|i| !i.is_empty())),
            Work::Queue(_) => (None, None),
        };
        loop {
            let batch: Option<(Vec<String>, Option<u64>)> = match &tests.work {
                Work::Static(..) => share.take().map(|ids| (ids, None)),
                Work::Queue(queue) => queue
                    .next_batch(tests.shard)
                    .await
                    .map(|Batch { id, tests, .. }| (tests, Some(id))),
            };
            let Some((ids, batch_id)) = batch else { break };
            ran += ids.len();
            let run = self
                .run_batch(container, current, tests, &ids, step, &mut format)
                .await;
            step += 1;
            if let (Work::Queue(queue), Some(id)) = (&tests.work, batch_id) {
                match &run {
                    Ok(_) => queue.complete(tests.shard, id).await,
                    // The shard cannot go on: its batch goes back for the others.
                    Err(_) => queue.give_back(tests.shard).await,
                }
            }
            let (batch_failed, cases) = run?;
            failed.extend(batch_failed);
            first_run.extend(cases);
        }
        let mut attempts = vec![first_run];

        let mut flaky = Vec::new();
        for attempt in 1..=tests.retry_failed {
            if failed.is_empty() {
                break;
            }
            self.say(format!(
                "retrying {} failed test(s), attempt {attempt} of {}",
                failed.len(),
                tests.retry_failed
            ));
            let (still, cases) = self
                .run_batch(container, current, tests, &failed, step, &mut format)
                .await?;
            attempts.push(cases);
            step += 1;
            flaky.extend(failed.iter().filter(|id| !still.contains(id)).cloned());
            failed = still;
        }
        if !flaky.is_empty() {
            self.say(format!(
                "warning: {} flaky test(s) passed on a retry: {}",
                flaky.len(),
                flaky.join(", ")
            ));
        }
        self.write_merged_junit(&attempts);
        self.emit(Event::ShardFinished {
            job: tests.job.clone(),
            shard: tests.shard,
            tests: ran,
            predicted_secs: predicted,
            actual_secs: started.elapsed().as_secs_f64(),
            flaky: flaky.clone(),
        });
        Ok(TestsOutcome { failed, flaky })
    }

    /// Runs one batch and reads its reports; returns the ids that failed.
    async fn run_batch(
        &self,
        container: &str,
        current: &CurrentStep,
        tests: &ShardTests,
        ids: &[String],
        step: u32,
        format: &mut Option<IdFormat>,
    ) -> Result<(Vec<String>, Vec<TestCase>), RunnerError> {
        let (command, shown) = batch_command(&tests.spec.run, ids);
        let exit = self
            .run_step(container, step, &shown, &command, current)
            .await;
        let cases = self.collect_junit(container, &tests.spec.junit).await?;
        if cases.is_empty() {
            self.say(format!(
                "warning: no JUnit report found at {}",
                tests.spec.junit.join(", ")
            ));
        }
        let format = format.get_or_insert_with(|| detect_format(&cases));
        let matched = format.match_cases(ids, &cases);
        if !matched.unmatched_ids.is_empty() && !cases.is_empty() {
            let sample: Vec<_> = matched.unmatched_ids.iter().take(3).cloned().collect();
            self.say(format!(
                "warning: {} listed test id(s) match no JUnit case (e.g. {}); set `tests.format` if ids and reports differ",
                matched.unmatched_ids.len(),
                sample.join(", ")
            ));
        }
        let mut failed = matched.failed.clone();
        if exit != Some(0) && failed.is_empty() {
            // The command failed but no case did (a crash, a build error): every id without
            // a passing result counts as failed, so retries and the status stay honest.
            let timed: std::collections::HashSet<&str> =
                matched.timings.iter().map(|(id, _)| id.as_str()).collect();
            failed = ids
                .iter()
                .filter(|id| !timed.contains(id.as_str()))
                .cloned()
                .collect();
            if failed.is_empty() {
                failed = ids.to_vec();
            }
        }
        self.emit(Event::TestResults {
            job: tests.job.clone(),
            shard: self.job.name.clone(),
            timings: matched.timings,
            failed: failed.clone(),
        });
        Ok((failed, cases))
    }

    /// Writes the shard's report, every batch and retry merged (a pass on a retry is kept as
    /// flaky), as `railyard-junit.xml` in its artifacts folder (a name no artifact is likely
    /// to have).
    fn write_merged_junit(&self, attempts: &[Vec<TestCase>]) {
        let merged = railyard_split::merge_attempts(attempts);
        if merged.is_empty() {
            return;
        }
        let path = self.artifacts_dir.join("railyard-junit.xml");
        let written = railyard_split::write_junit(&self.job.name, &merged)
            .map_err(|e| e.to_string())
            .and_then(|xml| {
                std::fs::create_dir_all(&self.artifacts_dir)
                    .and_then(|()| std::fs::write(&path, xml))
                    .map_err(|e| e.to_string())
            });
        match written {
            Ok(()) => self.say(format!("merged JUnit report saved to {}", path.display())),
            Err(e) => self.say(format!(
                "warning: could not write the merged JUnit report: {e}"
            )),
        }
    }

    /// Reads (and removes, so the next batch starts clean) the JUnit reports matching the
    /// patterns. A malformed report is a warning naming it; the others still count.
    async fn collect_junit(
        &self,
        container: &str,
        patterns: &[String],
    ) -> Result<Vec<TestCase>, RunnerError> {
        // One exec per batch, not one per file: each report is printed as NUL, name, NUL,
        // contents, then removed so the next batch starts clean. XML holds no NUL.
        let read = format!(
            "for f in {}; do [ -f \"$f\" ] && {{ printf '\\0%s\\0' \"$f\"; cat \"$f\"; rm -f \"$f\"; }}; done; true",
            patterns.join(" ")
        );
        let (_, stdout, _) = self.capture(container, &read).await?;
        let mut cases = Vec::new();
        let mut parts = stdout.split(|b| *b == 0).skip(1);
        while let (Some(name), Some(bytes)) = (parts.next(), parts.next()) {
            let file = String::from_utf8_lossy(name);
            match railyard_split::junit::parse(Path::new(file.as_ref()), bytes) {
                Ok(found) => cases.extend(found),
                Err(e) => self.say(format!("warning: {e}; its tests keep their old timings")),
            }
        }
        Ok(cases)
    }
}

fn parse_format(written: Option<&str>) -> Option<IdFormat> {
    let written = written?;
    IdFormat::from_spec(written).ok()
}

fn detect_format(cases: &[TestCase]) -> IdFormat {
    let report = railyard_split::Report {
        cases: cases.to_vec(),
        ..Default::default()
    };
    IdFormat::detect(&report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_writes_its_ids_and_expands_the_template() {
        let ids = vec!["a".to_string(), "b c".to_string()];
        let (command, shown) = batch_command("pytest {tests}", &ids);
        assert_eq!(
            command,
            "printf '%s\\n' a 'b c' > \"$RAILYARD_TESTS_FILE\"\npytest a 'b c'"
        );
        assert_eq!(shown, "pytest <2 tests>");
    }
}
