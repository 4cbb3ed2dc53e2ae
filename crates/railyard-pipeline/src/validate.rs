//! Checks across jobs: every job has an environment, `needs` name existing jobs, and the
//! `needs` graph has no cycle.

use crate::decode::Spans;
use crate::errors::{Issue, ProblemKind, suggest};
use crate::model::Pipeline;
use crate::yaml::Span;
use std::collections::HashMap;

/// Adds the cross-job issues of a decoded pipeline to `issues`.
pub(crate) fn validate(pipeline: &Pipeline, spans: &Spans, issues: &mut Vec<Issue>) {
    if !spans.env_given {
        for (name, job) in &spans.jobs {
            if !job.env_given {
                issues.push(
                    Issue::new(
                        ProblemKind::NoEnv { job: name.clone() },
                        job.key,
                        "no `env`",
                    )
                    .help(
                        "add a top-level `env:` (`dockerfile: ci/Dockerfile` or \
                             `image: debian:bookworm-slim`), or give this job its own `env:`",
                    ),
                );
            }
        }
    }
    for (name, job) in &spans.jobs {
        for (need, span) in &job.needs {
            if need == name {
                issues.push(
                    Issue::new(
                        ProblemKind::SelfNeed { job: name.clone() },
                        *span,
                        "the job itself",
                    )
                    .help("remove it: `needs` lists the jobs that must succeed first"),
                );
            } else if !pipeline.jobs.contains_key(need) {
                let suggestion = suggest(need, pipeline.jobs.keys().map(String::as_str));
                let help = match &suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "the jobs of this pipeline: {}",
                        pipeline.jobs.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                };
                issues.push(
                    Issue::new(
                        ProblemKind::UnknownNeed {
                            job: name.clone(),
                            need: need.clone(),
                            suggestion,
                        },
                        *span,
                        "no such job",
                    )
                    .help(help),
                );
            }
        }
    }
    cycles(spans, issues);
}

/// Finds the cycles of `needs` by depth-first search in file order; each back edge is one
/// cycle, reported at the `needs` entry that closes it.
fn cycles(spans: &Spans, issues: &mut Vec<Issue>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    struct Search<'a> {
        spans: &'a Spans,
        marks: HashMap<&'a str, Mark>,
        path: Vec<&'a str>,
        issues: &'a mut Vec<Issue>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, job: &'a str) {
            self.marks.insert(job, Mark::OnPath);
            self.path.push(job);
            for (need, span) in &self.spans.jobs[job].needs {
                if need == job || !self.spans.jobs.contains_key(need.as_str()) {
                    continue; // reported on their own
                }
                match self.marks.get(need.as_str()).copied().unwrap_or(Mark::New) {
                    Mark::New => self.visit(need),
                    Mark::OnPath => self.report(need, *span),
                    Mark::Done => {}
                }
            }
            self.path.pop();
            self.marks.insert(job, Mark::Done);
        }

        fn report(&mut self, need: &str, span: Span) {
            let start = self.path.iter().position(|j| *j == need).unwrap_or(0);
            let mut path: Vec<String> = self.path[start..].iter().map(|s| s.to_string()).collect();
            path.push(need.to_owned());
            let last = &path[path.len() - 2];
            let label = format!("`{last}` needs `{need}`, closing the cycle");
            self.issues.push(
                Issue::new(ProblemKind::Cycle { path }, span, label)
                    .help("remove one of these `needs` so that the jobs can run in an order"),
            );
        }
    }
    let mut search = Search {
        spans,
        marks: HashMap::new(),
        path: Vec::new(),
        issues,
    };
    for job in spans.jobs.keys() {
        if search.marks.get(job.as_str()).copied().unwrap_or(Mark::New) == Mark::New {
            search.visit(job);
        }
    }
}
