//! Checks across jobs: every job has an environment, `needs` name existing jobs (a matrix
//! job by its name or one expansion by its full name), no expansion of a matrix and no job
//! takes the name of another job or of a shard, and the `needs` graph has no cycle. The
//! graph is checked on the jobs as written: all expansions of a matrix job share its
//! `needs`, so a cycle among expansions is a cycle among the jobs they come from. Last, the
//! jobs the file expands to are counted against the limit of whoever runs it.

use crate::decode::Spans;
use crate::errors::{Issue, ProblemKind, suggest};
use crate::model::Pipeline;
use crate::yaml::Span;
use std::collections::HashMap;

/// The most jobs a pipeline may expand to unless its runner says otherwise ([`crate::Limits`]).
/// Each is a queue row and a container: 81,920 of them (5 KB of YAML) held a server's
/// database for seconds.
pub const DEFAULT_MAX_JOBS: usize = 1_000;

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
        if let Some((base, _, _)) = shard_form(name) {
            shard_named(pipeline, &expanded, name, base, job.key, issues);
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
    artifacts_both_ways(pipeline, spans, &expanded, issues);
    cycles(spans, &expanded, issues);
}

/// A job that needs a matrix job and also one of its expansions by its full name, one with
/// `artifacts: false` and the other without: would it take that expansion's artifacts?
/// Reported at whichever of the two comes later.
fn artifacts_both_ways(
    pipeline: &Pipeline,
    spans: &Spans,
    expanded: &HashMap<String, String>,
    issues: &mut Vec<Issue>,
) {
    for (name, job_spans) in &spans.jobs {
        let Some(job) = pipeline.jobs.get(name) else {
            continue;
        };
        let takes = |need: &str| !job.needs_without_artifacts.iter().any(|n| n == need);
        for (need, span) in &job_spans.needs {
            let Some(base) = expanded.get(need) else {
                continue;
            };
            let Some((_, base_span)) = job_spans.needs.iter().find(|(n, _)| n == base) else {
                continue;
            };
            if takes(need) == takes(base) {
                continue;
            }
            let (left, taken) = if takes(need) {
                (base, need)
            } else {
                (need, base)
            };
            let span = if base_span.offset > span.offset {
                *base_span
            } else {
                *span
            };
            issues.push(
                Issue::new(
                    ProblemKind::InvalidValue {
                        key: "needs".into(),
                        context: format!("in job `{name}`"),
                        reason: format!(
                            "`{need}` is one of the jobs of `{base}`, and `{left}` is listed \
                             with `artifacts: false` but `{taken}` is not"
                        ),
                    },
                    span,
                    "takes and leaves the same artifacts",
                )
                .help(format!(
                    "give both `artifacts: false`, or leave `{need}` out: needing `{base}` \
                     already waits for it"
                )),
            );
        }
    }
}

/// `JOB [K/N]`, the form of a shard's name (`railyard_types::shard_name`), as (JOB, K, N).
fn shard_form(name: &str) -> Option<(&str, u32, u32)> {
    let (base, rest) = name.strip_suffix(']')?.rsplit_once(" [")?;
    let (k, n) = rest.split_once('/')?;
    let number = |t: &str| {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    Some((base, number(k)?, number(n)?))
}

/// A job named like a shard: the server records and queues each shard of a `parallel` job
/// under such a name, so the two would be one row (the trigger failed half-way, leaving a
/// run that never ended). Every name of the form is kept for shards, whether or not a job
/// of the file makes it today.
fn shard_named(
    pipeline: &Pipeline,
    expanded: &HashMap<String, String>,
    name: &str,
    base: &str,
    span: Span,
    issues: &mut Vec<Issue>,
) {
    let source = expanded.get(base).map_or(base, String::as_str);
    let reason = match pipeline.jobs.get(source).map(|j| j.parallel) {
        Some(n) if n > 1 => format!(
            "job `{base}` has `parallel: {n}`, and its shards are named `{base} [1/{n}]` to \
             `{base} [{n}/{n}]`"
        ),
        _ => "a name ending in ` [K/N]` is a shard's: a `parallel: N` job runs as `JOB [1/N]` \
              to `JOB [N/N]`"
            .to_owned(),
    };
    issues.push(
        Issue::new(
            ProblemKind::BadJobName {
                name: name.to_owned(),
                reason,
            },
            span,
            "a shard's name",
        )
        .help(format!(
            "rename this job, e.g. `{}`: names ending in ` [K/N]` are kept for shards",
            suggested_name(name)
        )),
    );
}

/// `test [1/2]` → `test-1-of-2`.
fn suggested_name(name: &str) -> String {
    match shard_form(name) {
        Some((base, k, n)) => format!("{base}-{k}-of-{n}"),
        None => name.to_owned(),
    }
}

/// Counts the jobs the file expands to (each matrix combination, each shard) and reports a
/// count over `max` at `jobs:`, with the arithmetic: `3 jobs × matrix 16 × parallel 64 =
/// 3,072 > 1,000`. Runs before any expansion, so a file over the limit costs nothing more.
pub(crate) fn job_count(pipeline: &Pipeline, spans: &Spans, max: usize, issues: &mut Vec<Issue>) {
    // (matrix combinations, shards) → jobs of that shape, in file order.
    let mut shapes: Vec<((usize, usize), usize)> = Vec::new();
    let mut count = 0usize;
    for (name, job) in &spans.jobs {
        let combos = job
            .matrix
            .iter()
            .fold(1usize, |n, (_, values)| n.saturating_mul(values.len()));
        let shards = pipeline.jobs.get(name).map_or(1, |j| j.parallel as usize);
        count = count.saturating_add(combos.saturating_mul(shards));
        match shapes
            .iter_mut()
            .find(|(shape, _)| *shape == (combos, shards))
        {
            Some((_, n)) => *n += 1,
            None => shapes.push(((combos, shards), 1)),
        }
    }
    if count <= max {
        return;
    }
    let terms: Vec<String> = shapes
        .iter()
        .map(|&((combos, shards), n)| {
            let mut term = format!("{} job{}", thousands(n), if n == 1 { "" } else { "s" });
            if combos > 1 {
                term.push_str(&format!(" × matrix {}", thousands(combos)));
            }
            if shards > 1 {
                term.push_str(&format!(" × parallel {shards}"));
            }
            term
        })
        .collect();
    let arithmetic = format!(
        "{} = {} > {}",
        terms.join(" + "),
        thousands(count),
        thousands(max)
    );
    let span = spans.jobs_key.unwrap_or_default();
    issues.push(
        Issue::new(
            ProblemKind::TooManyJobs {
                count,
                max,
                arithmetic,
            },
            span,
            format!("expands to {} jobs", thousands(count)),
        )
        .help(format!(
            "each matrix combination and each shard is a job of its own: use fewer `matrix` \
             values or `parallel` shards, or split the pipeline; whoever runs it may allow \
             more (`railyard run --max-jobs N`, the server's `--max-jobs`), {} by default",
            thousands(DEFAULT_MAX_JOBS)
        )),
    );
}

/// `81920` → `81,920`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
