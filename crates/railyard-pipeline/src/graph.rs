//! The job graph of a validated pipeline: selecting jobs with what they need, grouping
//! them into stages, and drawing the graph for `railyard graph`.

use crate::errors::{PipelineError, suggest};
use crate::model::{Job, Pipeline, SplitMode};
use std::collections::HashSet;
use std::fmt::Write as _;

impl Pipeline {
    /// The named jobs plus everything they transitively `needs`, in file order. An empty
    /// list selects every job (what `railyard run` without names means). A name is a
    /// job's full name, or the name of a matrix job as written (all its expansions). An
    /// unknown name is an error with a did-you-mean.
    pub fn select(&self, names: &[String]) -> Result<Vec<String>, PipelineError> {
        if names.is_empty() {
            return Ok(self.jobs.keys().cloned().collect());
        }
        let mut wanted: HashSet<&str> = HashSet::new();
        let mut todo: Vec<&str> = Vec::new();
        for name in names {
            if let Some((name, _)) = self.jobs.get_key_value(name) {
                todo.push(name);
                continue;
            }
            let before = todo.len();
            todo.extend(
                self.jobs
                    .values()
                    .filter(|j| &j.base_name == name)
                    .map(|j| j.name.as_str()),
            );
            if todo.len() == before {
                let bases = self.base_names();
                let candidates = bases
                    .iter()
                    .copied()
                    .chain(self.jobs.keys().map(String::as_str));
                return Err(PipelineError::UnknownJob {
                    path: self.path.clone(),
                    name: name.clone(),
                    suggestion: suggest(name, candidates),
                    jobs: bases.iter().map(|s| s.to_string()).collect(),
                });
            }
        }
        while let Some(name) = todo.pop() {
            if wanted.insert(name)
                && let Some(job) = self.jobs.get(name)
            {
                todo.extend(job.needs.iter().map(String::as_str));
            }
        }
        Ok(self
            .jobs
            .keys()
            .filter(|j| wanted.contains(j.as_str()))
            .cloned()
            .collect())
    }

    /// The jobs as written under `jobs:` (a matrix job once), in file order.
    pub fn base_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for job in self.jobs.values() {
            if out.last() != Some(&job.base_name.as_str()) {
                out.push(&job.base_name);
            }
        }
        out
    }

    /// Jobs grouped into stages: stage 0 needs nothing, stage k needs only jobs of earlier
    /// stages (and at least one of stage k-1). File order within a stage. Needs naming no
    /// job are ignored; should the graph have a cycle (only possible in a hand-built
    /// `Pipeline`), its jobs form a last stage rather than looping.
    pub fn stages(&self) -> Vec<Vec<String>> {
        let mut placed: HashSet<&str> = HashSet::new();
        let mut left: Vec<&str> = self.jobs.keys().map(String::as_str).collect();
        let mut stages = Vec::new();
        while !left.is_empty() {
            let (ready, waiting): (Vec<&str>, Vec<&str>) = left.iter().partition(|name| {
                self.jobs[**name].needs.iter().all(|n| {
                    placed.contains(n.as_str()) || !self.jobs.contains_key(n) || n == *name
                })
            });
            if ready.is_empty() {
                stages.push(waiting.iter().map(|s| s.to_string()).collect());
                break;
            }
            placed.extend(ready.iter().copied());
            stages.push(ready.iter().map(|s| s.to_string()).collect());
            left = waiting;
        }
        stages
    }

    /// The graph as text for a terminal: one block per stage, each job with what it
    /// needs, its services, shards, tests and whether it may fail. The expansions of a
    /// matrix job (always in one stage, as they share their `needs`) are one line under
    /// the job's name, and a `needs` on all of them shows that name.
    pub fn render_graph(&self) -> String {
        let stages = self.stages();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} job{} in {} stage{}",
            self.path.display(),
            self.jobs.len(),
            plural(self.jobs.len()),
            stages.len(),
            plural(stages.len())
        );
        let width = self
            .jobs
            .values()
            .map(|j| j.base_name.chars().count())
            .max()
            .unwrap_or(0);
        for (i, stage) in stages.iter().enumerate() {
            let _ = writeln!(out, "\nstage {}", i + 1);
            // One line per job as written: the first expansion stands for its matrix.
            let mut lines: Vec<&str> = Vec::new();
            let mut bases: HashSet<&str> = HashSet::new();
            for name in stage {
                if bases.insert(self.jobs[name].base_name.as_str()) {
                    lines.push(name);
                }
            }
            for (k, name) in lines.iter().enumerate() {
                let job = &self.jobs[*name];
                let branch = if k + 1 == lines.len() {
                    "└─"
                } else {
                    "├─"
                };
                let notes = self.notes(job, stage);
                let name = &job.base_name;
                let line = if notes.is_empty() {
                    format!("  {branch} {name}")
                } else {
                    format!("  {branch} {name:<width$}   {}", notes.join(" · "))
                };
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
        out
    }

    /// What the graph says about one job (for a matrix, about all its expansions).
    fn notes(&self, job: &Job, stage: &[String]) -> Vec<String> {
        let mut notes = Vec::new();
        if !job.matrix.is_empty() {
            let count = stage
                .iter()
                .filter(|n| self.jobs[n.as_str()].base_name == job.base_name)
                .count();
            let keys: Vec<&str> = job.matrix.keys().map(String::as_str).collect();
            notes.push(format!("matrix {}: {count} jobs", keys.join(" × ")));
        }
        if !job.needs.is_empty() {
            notes.push(format!("needs {}", self.needs_as_written(job).join(", ")));
        }
        if !job.services.is_empty() {
            let names: Vec<&str> = job.services.keys().map(String::as_str).collect();
            notes.push(format!("services {}", names.join(", ")));
        }
        if job.parallel > 1 {
            notes.push(format!("{} shards", job.parallel));
        }
        if let Some(tests) = &job.tests {
            let mode = match tests.mode {
                SplitMode::Static => "split by timings",
                SplitMode::Queue => "queue",
            };
            let mut note = format!("tests: {mode}");
            if job.retry_failed > 0 {
                note.push_str(&format!(", {}× retry", job.retry_failed));
            }
            notes.push(note);
        }
        if let Some(image) = &job.image_build {
            let pushes = if image.push { " and pushes" } else { "" };
            notes.push(format!("builds{pushes} {}", image.tags.join(", ")));
        }
        if let Some(lock) = &job.concurrency {
            let newest = if lock.cancel_pending {
                " (newest waiting wins)"
            } else {
                ""
            };
            notes.push(format!("one at a time in {}{newest}", lock.group));
        }
        if let Some(environment) = &job.environment {
            notes.push(format!("deploys to {environment}"));
        }
        if job.allow_failure {
            notes.push("may fail".to_owned());
        }
        notes
    }

    /// A job's `needs`, with all the expansions of a matrix job shown as its name.
    fn needs_as_written<'a>(&'a self, job: &'a Job) -> Vec<&'a str> {
        let mut out: Vec<&str> = Vec::new();
        for need in &job.needs {
            let Some(other) = self.jobs.get(need) else {
                out.push(need);
                continue;
            };
            let base = other.base_name.as_str();
            let all = !other.matrix.is_empty()
                && self
                    .jobs
                    .values()
                    .filter(|j| j.base_name == base)
                    .all(|j| job.needs.contains(&j.name));
            let shown = if all { base } else { need.as_str() };
            if !out.contains(&shown) {
                out.push(shown);
            }
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
