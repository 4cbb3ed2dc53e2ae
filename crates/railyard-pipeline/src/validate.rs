//! Checks across jobs: every job has an environment, `needs` name existing jobs (a matrix
//! job by its name or one expansion by its full name), no expansion of a matrix takes the
//! name of another job, and the `needs` graph has no cycle. The graph is checked on the
//! jobs as written: all expansions of a matrix job share its `needs`, so a cycle among
//! expansions is a cycle among the jobs they come from.

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
    // Every expansion of a matrix job, mapped to the job it comes from.
    let expanded = crate::matrix::expanded_names(spans);
    for (full, base) in &expanded {
        if let Some(other) = spans.jobs.get(full) {
            issues.push(
                Issue::new(
                    ProblemKind::BadJobName {
                        name: full.clone(),
                        reason: format!("the matrix of job `{base}` makes a job of this name"),
                    },
                    other.key,
                    "name taken by a matrix",
                )
                .help("rename this job"),
            );
        }
    }
    for (name, job) in &spans.jobs {
        for (need, span) in &job.needs {
            if need == name || expanded.get(need) == Some(name) {
                issues.push(
                    Issue::new(
                        ProblemKind::SelfNeed { job: name.clone() },
                        *span,
                        "the job itself",
                    )
                    .help("remove it: `needs` lists the jobs that must succeed first"),
                );
            } else if !pipeline.jobs.contains_key(need)
                && !expanded.contains_key(need)
                && !of_a_broken_matrix(spans, need)
            {
                // Never the job itself (or its own expansions): it cannot need itself, and
                // with short names it is often one typo away.
                let others: Vec<&str> = pipeline
                    .jobs
                    .keys()
                    .map(String::as_str)
                    .filter(|j| j != name)
                    .collect();
                let mut full: Vec<&str> = expanded
                    .iter()
                    .filter(|(_, base)| *base != name)
                    .map(|(j, _)| j.as_str())
                    .collect();
                full.sort_unstable();
                let suggestion = suggest(need, others.iter().copied().chain(full));
                let help = match &suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if others.is_empty() => {
                        format!("this pipeline has no other job: remove `{need}` from `needs`")
                    }
                    None => format!("the other jobs of this pipeline: {}", others.join(", ")),
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
    cycles(spans, &expanded, issues);
}

/// Whether `need` looks like an expansion (`job (…)`) of a job whose `matrix` is invalid:
/// that problem is reported already, and its expansions are unknown.
fn of_a_broken_matrix(spans: &Spans, need: &str) -> bool {
    spans.jobs.iter().any(|(name, job)| {
        job.matrix_given
            && job.matrix.is_empty()
            && need
                .strip_prefix(name.as_str())
                .is_some_and(|rest| rest.starts_with(" (") && rest.ends_with(')'))
    })
}

/// Finds the cycles of `needs` by depth-first search in file order; each back edge is one
/// cycle, reported at the `needs` entry that closes it.
fn cycles(spans: &Spans, expanded: &HashMap<String, String>, issues: &mut Vec<Issue>) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    struct Search<'a> {
        spans: &'a Spans,
        expanded: &'a HashMap<String, String>,
        marks: HashMap<&'a str, Mark>,
        path: Vec<&'a str>,
        issues: &'a mut Vec<Issue>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, job: &'a str) {
            self.marks.insert(job, Mark::OnPath);
            self.path.push(job);
            for (need, span) in &self.spans.jobs[job].needs {
                // One expansion stands for the job it comes from.
                let need = self.expanded.get(need).unwrap_or(need);
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
        expanded,
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
