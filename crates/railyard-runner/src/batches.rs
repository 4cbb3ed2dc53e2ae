//! Running a shard's share of a job's tests: batches from a static plan or a shared queue,
//! each one `exec` of the job's `run` template, their JUnit reports read back for timings
//! and failures, and failing ids rerun up to `retry_failed` times (flaky when they pass).

use crate::errors::RunnerError;
use crate::events::Event;
use crate::job::{CurrentStep, JobContext};
use crate::tail::StdoutTail;
use railyard_pipeline::TestsSpec;
use railyard_split::{Batch, Done, IdFormat, TestCase, TestQueue};
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

/// The command that runs one batch, and how it is shown: runs the template with `{tests}`
/// expanded (under `-e`, in a subshell, so a failing line ends it but not what follows), then
/// prints `marker` and each report matching `junit` as NUL, name, NUL, contents (XML holds no
/// NUL), removing it so the next batch starts clean, and exits with the tests' status. One
/// `exec` per batch; the ids are in `$RAILYARD_TESTS_FILE` before it starts
/// ([`tests_file_tar`]).
pub fn batch_command(
    run: &str,
    ids: &[String],
    junit: &[String],
    marker: &str,
) -> (String, String) {
    let command = format!(
        "set +e\n(\nset -e\n{}\n)\ncode=$?\nprintf '{marker}'\n\
         for f in {}; do [ -f \"$f\" ] && {{ printf '\\0%s\\0' \"$f\"; cat \"$f\"; rm -f \"$f\"; }}; done\nexit $code",
        railyard_split::expand_tests(run, ids),
        junit.join(" "),
    );
    let count = match ids.len() {
        1 => "<1 test>".to_string(),
        n => format!("<{n} tests>"),
    };
    let shown =
        railyard_types::template::expand(run, |field| (field == "tests").then(|| count.clone()));
    (command, shown)
}

/// A tar of [`TESTS_FILE`] holding `ids`, one a line, readable by any user of the image.
pub fn tests_file_tar(ids: &[String]) -> bytes::Bytes {
    let mut text = String::with_capacity(ids.iter().map(|i| i.len() + 1).sum());
    for id in ids {
        text.push_str(id);
        text.push('\n');
    }
    let name = Path::new(TESTS_FILE).file_name().unwrap_or_default();
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    );
    let mut tar = tar::Builder::new(Vec::new());
    tar.append_data(&mut header, name, text.as_bytes())
        .and_then(|()| tar.into_inner())
        .map(bytes::Bytes::from)
        .expect("a tar in memory is written")
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
        let mut reading = Reading {
            format: parse_format(tests.spec.id_format.as_deref()),
            warned: false,
            guessed: std::collections::HashSet::new(),
        };
        let mut ran = 0usize;
        let mut failed: Vec<String> = Vec::new();
        let mut first_run: Vec<TestCase> = Vec::new();
        // A static share is one batch; a queue hands out batches until it is empty.
        let (predicted, mut share) = match &tests.work {
            Work::Static(ids, secs) => (Some(*secs), Some(ids.clone()).filter(|i| !i.is_empty())),
            Work::Queue(_) => (None, None),
        };
        // A shard that dies mid-batch (an error below, or dropped: cancelled, timed out)
        // gives its batch back, so the others run it instead of waiting for it forever.
        let mut give_back = GiveBack::new(&tests.work, tests.shard);
        // The shard's time ends with its last batch, not when the queue says it is drained:
        // a shard that finished early waits there for the others, and that is not its time.
        let mut busy_until = started;
        let mut done: Option<Done> = None;
        loop {
            let batch: Option<(Vec<String>, Option<u64>)> = match &tests.work {
                Work::Static(..) => share.take().map(|ids| (ids, None)),
                Work::Queue(queue) => queue
                    .next_batch(tests.shard, done.take())
                    .await
                    .map(|Batch { id, tests, .. }| (tests, Some(id))),
            };
            let Some((ids, batch_id)) = batch else { break };
            ran += ids.len();
            let batch_started = Instant::now();
            let run = self
                .run_batch(container, current, tests, &ids, step, &mut reading)
                .await;
            step += 1;
            busy_until = Instant::now();
            let (batch_failed, cases) = match run {
                Ok(ran) => ran,
                Err(e) => {
                    give_back.now().await;
                    return Err(e);
                }
            };
            done = batch_id.map(|batch| Done {
                batch,
                elapsed_secs: batch_started.elapsed().as_secs_f64(),
                tests_secs: reported_secs(&cases),
            });
            failed.extend(batch_failed);
            first_run.extend(cases);
        }
        give_back.disarm();
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
                .run_batch(container, current, tests, &failed, step, &mut reading)
                .await?;
            busy_until = Instant::now();
            attempts.push(cases);
            step += 1;
            // Only a test whose own report failed and that passed now is flaky: one merely
            // rerun because a failure could not be tied to a listed id is not.
            let (passed_guessed, passed): (Vec<String>, Vec<String>) = failed
                .iter()
                .filter(|id| !still.contains(id))
                .cloned()
                .partition(|id| reading.guessed.contains(id));
            flaky.extend(passed);
            if !passed_guessed.is_empty() {
                self.say(format!(
                    "{} test(s) rerun because a failure named no listed id passed on attempt {attempt}: which of them failed is unknown, so none is called flaky",
                    passed_guessed.len()
                ));
            }
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
            actual_secs: (busy_until - started).as_secs_f64(),
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
        reading: &mut Reading,
    ) -> Result<(Vec<String>, Vec<TestCase>), RunnerError> {
        let mut tail = StdoutTail::new();
        let (command, shown) = batch_command(
            &tests.spec.run,
            ids,
            &tests.spec.junit,
            &tail.printf_marker(),
        );
        let started = Instant::now();
        // Copied in, not written by the command: an exec's command is one argument, which
        // Linux caps at 128 KiB (about 1,200 ids of 100 characters; past it the exec failed).
        let dir = Path::new(TESTS_FILE)
            .parent()
            .and_then(Path::to_str)
            .unwrap_or("/");
        self.docker
            .put_archive(container, dir, tests_file_tar(ids))
            .await?;
        let exit = self
            .run_step(container, step, &shown, &command, current, Some(&mut tail))
            .await;
        if exit.is_none() {
            // The exec could not run. If the container is gone this fails too, and the
            // shard stops and gives its batch back rather than failing the batch's tests.
            self.capture(container, "true").await?;
        }
        if tail.was_cut() {
            self.say(format!(
                "warning: the batch's JUnit reports are larger than {} MiB: their end was dropped, and the tests in it keep their old timings",
                crate::tail::MAX_REPORTS_BYTES >> 20
            ));
        }
        let cases = self.parse_reports(&tail.into_tail().unwrap_or_default());
        // Where a batch's time goes beyond its tests (RAILYARD_LOG=railyard_runner=debug).
        tracing::debug!(
            shard = %self.job.name,
            tests = ids.len(),
            batch_secs = started.elapsed().as_secs_f64(),
            reported_secs = reported_secs(&cases).unwrap_or(0.0),
            "batch timing"
        );
        if cases.is_empty() {
            self.say(format!(
                "warning: no JUnit report found at {}",
                tests.spec.junit.join(", ")
            ));
        }
        let format = reading.format.get_or_insert_with(|| detect_format(&cases));
        let matched = format.match_cases(ids, &cases);
        // Said once a shard: every batch of a mismatched job would repeat it.
        if !matched.unmatched_ids.is_empty() && !cases.is_empty() && !reading.warned {
            reading.warned = true;
            let sample: Vec<_> = matched.unmatched_ids.iter().take(3).cloned().collect();
            let case = cases
                .first()
                .map(|c| match &c.classname {
                    Some(class) => format!("classname `{class}`, name `{}`", c.name),
                    None => format!("name `{}`", c.name),
                })
                .unwrap_or_default();
            self.say(format!(
                "warning: {} listed test id(s) match no JUnit case (e.g. {}; a report's case has {case}): their timings are not recorded, and a failure the reports cannot tie to an id reruns the whole batch; set `tests.format` so ids and reports match",
                matched.unmatched_ids.len(),
                sample.join(", ")
            ));
        }
        if matched.unmatched_failures > 0 {
            self.say(format!(
                "error: {} failed JUnit case(s) match no listed test id; the batch counts as failed (set `tests.format` so ids and reports match)",
                matched.unmatched_failures
            ));
        }
        let mut failed = matched.failed.clone();
        if (exit != Some(0) || matched.unmatched_failures > 0) && failed.is_empty() {
            // The command failed, or a report did, but no listed id's case did (a crash, a
            // build error, ids the format cannot map): every id without a passing result
            // counts as failed, so retries and the status stay honest.
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
            reading.guessed.extend(failed.iter().cloned());
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
    /// flaky), as [`crate::handover::MERGED_JUNIT`] in its artifacts folder (a name no
    /// artifact is likely to have; not handed to dependents).
    fn write_merged_junit(&self, attempts: &[Vec<TestCase>]) {
        let merged = railyard_split::merge_attempts(attempts);
        if merged.is_empty() {
            return;
        }
        let path = self.artifacts_dir.join(crate::handover::MERGED_JUNIT);
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

    /// Parses the reports a batch printed after its marker (NUL, name, NUL, contents). A
    /// malformed report is a warning naming it; the others still count.
    fn parse_reports(&self, printed: &[u8]) -> Vec<TestCase> {
        let mut cases = Vec::new();
        let mut parts = printed.split(|b| *b == 0).skip(1);
        while let (Some(name), Some(bytes)) = (parts.next(), parts.next()) {
            let file = String::from_utf8_lossy(name);
            match railyard_split::junit::parse(Path::new(file.as_ref()), bytes) {
                Ok(found) => cases.extend(found),
                Err(e) => self.say(format!("warning: {e}; its tests keep their old timings")),
            }
        }
        cases
    }
}

/// How a shard reads its batches' reports, kept from batch to batch.
struct Reading {
    /// The id format: given, or detected from the first batch's cases.
    format: Option<IdFormat>,
    /// Whether the shard already said that ids and reports do not match.
    warned: bool,
    /// Ids counted as failed without a report of theirs saying so (a failure that named no
    /// listed id fails every id of its batch): rerun, but never called flaky.
    guessed: std::collections::HashSet<String>,
}

/// The seconds a batch's reports give for its tests, `None` without any timed case.
fn reported_secs(cases: &[TestCase]) -> Option<f64> {
    let times: Vec<f64> = cases.iter().filter_map(|c| c.time).collect();
    (!times.is_empty()).then(|| times.iter().sum())
}

/// Gives a queue shard's unfinished batches back when it stops before the queue is drained:
/// at once through [`GiveBack::now`] on an error, or from `Drop` when the shard's future is
/// dropped (its job cancelled or timed out), which cannot wait and so spawns the call.
struct GiveBack {
    queue: Option<Arc<dyn TestQueue>>,
    shard: u32,
}

impl GiveBack {
    fn new(work: &Work, shard: u32) -> GiveBack {
        let queue = match work {
            Work::Queue(queue) => Some(queue.clone()),
            Work::Static(..) => None,
        };
        GiveBack { queue, shard }
    }

    async fn now(&mut self) {
        if let Some(queue) = self.queue.take() {
            queue.give_back(self.shard).await;
        }
    }

    /// The queue is drained: nothing to give back.
    fn disarm(&mut self) {
        self.queue = None;
    }
}

impl Drop for GiveBack {
    fn drop(&mut self) {
        if let (Some(queue), Ok(runtime)) =
            (self.queue.take(), tokio::runtime::Handle::try_current())
        {
            let shard = self.shard;
            runtime.spawn(async move { queue.give_back(shard).await });
        }
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

    /// A shard dropped mid-batch (cancelled, timed out) gives it back to the others.
    #[tokio::test]
    async fn a_dropped_shard_gives_its_batch_back() {
        let ids: Vec<String> = (0..4).map(|i| format!("t{i}")).collect();
        let queue: Arc<dyn TestQueue> = Arc::new(railyard_split::LocalQueue::new(
            &ids,
            &railyard_split::Timings::new(),
            1,
        ));
        let work = Work::Queue(queue.clone());
        let held = queue.next_batch(1, None).await.expect("a batch");
        drop(GiveBack::new(&work, 1));
        let again = tokio::time::timeout(std::time::Duration::from_secs(5), async {
            let mut got = Vec::new();
            let mut done = None;
            while let Some(b) = queue.next_batch(2, done.take()).await {
                got.extend(b.tests.clone());
                done = Some(Done {
                    batch: b.id,
                    elapsed_secs: 0.1,
                    tests_secs: None,
                });
            }
            got
        })
        .await
        .expect("the batch came back, so shard 2 was not left waiting");
        assert!(held.tests.iter().all(|t| again.contains(t)), "{again:?}");

        let mut disarmed = GiveBack::new(&work, 2);
        disarmed.disarm();
        drop(disarmed);
        assert_eq!(
            queue.next_batch(2, None).await,
            None,
            "nothing given back twice"
        );
    }

    /// The command through a real `sh`, its stdout split as `run_step` splits it.
    #[test]
    fn one_exec_runs_the_batch_and_prints_its_reports_after_the_marker() {
        let dir = tempfile::tempdir().unwrap();
        let ids = vec!["a".to_string(), "b c".to_string()];
        let run = "echo ran {tests}\nprintf '<testsuites/>' > r1.xml\nfalse\necho not reached";
        let mut tail = StdoutTail::new();
        let junit = vec!["r*.xml".to_string(), "missing.xml".to_string()];
        let (command, shown) = batch_command(run, &ids, &junit, &tail.printf_marker());
        assert_eq!(shown, run.replace("{tests}", "<2 tests>"));
        let out = std::process::Command::new("sh")
            .args(["-ec", &command])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "the tests' status");
        let log = tail.feed(bytes::Bytes::from(out.stdout));
        assert_eq!(&log[..], b"ran a b c\n", "a failing line ends the tests");
        // The ids file, copied in before the command: one a line, readable by all.
        let mut tar = tar::Archive::new(std::io::Cursor::new(tests_file_tar(&ids)));
        let mut entry = tar.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap(), Path::new("railyard-tests.txt"));
        assert_eq!(entry.header().mode().unwrap(), 0o644);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
        assert_eq!(text, "a\nb c\n");
        // A batch of any size: the command does not grow with its ids.
        let many: Vec<String> = (0..100_000).map(|i| format!("{i:0100}")).collect();
        let (command, _) = batch_command("pytest -q", &many, &junit, &tail.printf_marker());
        assert!(command.len() < 1_000, "{}", command.len());
        assert_eq!(tail.into_tail().unwrap(), b"\0r1.xml\0<testsuites/>");
        assert!(
            !dir.path().join("r1.xml").exists(),
            "removed for the next batch"
        );
    }
}
