//! The job graph of a validated pipeline: selecting jobs with what they need, grouping
//! them into stages, and drawing the graph for `railyard graph`.

use crate::errors::{PipelineError, suggest};
use crate::model::Pipeline;
use std::collections::HashSet;
use std::fmt::Write as _;

impl Pipeline {
    /// The named jobs plus everything they transitively `needs`, in file order. An empty
    /// list selects every job (what `railyard run` without names means). An unknown name
    /// is an error with a did-you-mean.
    pub fn select(&self, names: &[String]) -> Result<Vec<String>, PipelineError> {
        if names.is_empty() {
            return Ok(self.jobs.keys().cloned().collect());
        }
        let mut wanted: HashSet<&str> = HashSet::new();
        let mut todo: Vec<&str> = Vec::new();
        for name in names {
            let Some((name, _)) = self.jobs.get_key_value(name) else {
                return Err(PipelineError::UnknownJob {
                    path: self.path.clone(),
                    name: name.clone(),
                    suggestion: suggest(name, self.jobs.keys().map(String::as_str)),
                    jobs: self.jobs.keys().cloned().collect(),
                });
            };
            todo.push(name);
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
    /// needs, its services and whether it may fail.
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
            .keys()
            .map(|j| j.chars().count())
            .max()
            .unwrap_or(0);
        for (i, stage) in stages.iter().enumerate() {
            let _ = writeln!(out, "\nstage {}", i + 1);
            for (k, name) in stage.iter().enumerate() {
                let job = &self.jobs[name];
                let branch = if k + 1 == stage.len() {
                    "└─"
                } else {
                    "├─"
                };
                let mut notes = Vec::new();
                if !job.needs.is_empty() {
                    notes.push(format!("needs {}", job.needs.join(", ")));
                }
                if !job.services.is_empty() {
                    let names: Vec<&str> = job.services.keys().map(String::as_str).collect();
                    notes.push(format!("services {}", names.join(", ")));
                }
                if job.allow_failure {
                    notes.push("may fail".to_owned());
                }
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
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
