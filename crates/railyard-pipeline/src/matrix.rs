//! `matrix`: one job per combination of values. Decoding reads the axes and checks the
//! limit; after validation, [`expand`] replaces each matrix job by its expansions and each
//! `needs` naming one by all of them, so that the runner only ever sees plain jobs.

use crate::decode::Spans;
use crate::errors::{Issue, ProblemKind};
use crate::model::{Job, Pipeline};
use crate::read::{Entry, Reader, is_variable_name, nested};
use crate::shards::{RESERVED_VARIABLES, reserved};
use crate::yaml::Value;
use indexmap::IndexMap;
use std::collections::HashMap;

/// The most jobs one `matrix` may expand to.
pub const MAX_MATRIX_JOBS: usize = 256;

/// One variable of a matrix with its values, as written.
pub(crate) type Axis = (String, Vec<String>);

/// Reads a `matrix` map. `None` when it is wrong (the problems are reported).
pub(crate) fn matrix(r: &mut Reader<'_>, entry: Entry<'_>, job_context: &str) -> Option<Vec<Axis>> {
    let context = nested("matrix", job_context);
    let expected = "a map of variable names to lists of values";
    let entries = r.entries(entry, job_context, expected)?;
    if entries.is_empty() {
        r.invalid_help(
            "matrix",
            job_context,
            entry.value.span,
            "the matrix has no variables",
            "add a variable and its values, e.g. `matrix: { PYTHON: [\"3.11\", \"3.12\"] }`, \
             or remove `matrix`",
        );
        return None;
    }
    let mut axes = Vec::with_capacity(entries.len());
    let mut ok = true;
    for e in entries {
        match axis(r, e, &context) {
            Some(a) => axes.push(a),
            None => ok = false,
        }
    }
    if !ok {
        return None;
    }
    let count = axes
        .iter()
        .fold(1usize, |n, (_, values)| n.saturating_mul(values.len()));
    if count > MAX_MATRIX_JOBS {
        let sizes: Vec<String> = axes
            .iter()
            .map(|(name, values)| format!("{} {name}", values.len()))
            .collect();
        let count = if count == usize::MAX {
            "too many".to_owned()
        } else {
            count.to_string()
        };
        r.invalid_help(
            "matrix",
            job_context,
            entry.key_span,
            format!(
                "expands to {count} jobs ({}), more than the limit of {MAX_MATRIX_JOBS}",
                sizes.join(" × ")
            ),
            "remove values, or split the job in two; to spread one job's tests over more \
             containers use `parallel`",
        );
        return None;
    }
    Some(axes)
}

/// One variable of the matrix: a variable name and a non-empty list of distinct values.
fn axis(r: &mut Reader<'_>, e: Entry<'_>, context: &str) -> Option<Axis> {
    if !is_variable_name(e.key) {
        r.invalid(
            e.key,
            context,
            e.key_span,
            "a matrix variable name is letters, digits and `_`, not starting with a digit \
             (each job gets it as a variable)",
        );
        return None;
    }
    if RESERVED_VARIABLES.contains(&e.key) {
        reserved(r, e.key, context, e.key_span);
        return None;
    }
    let Value::Seq(items) = &e.value.value else {
        r.wrong_type(e.key, context, e.value, "a list of values");
        return None;
    };
    if items.is_empty() {
        r.invalid_help(
            e.key,
            context,
            e.value.span,
            "the list of values is empty",
            format!("give `{}` at least one value, or remove it", e.key),
        );
        return None;
    }
    let mut values: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for item in items {
        let Some(text) = item.scalar_text(r.source) else {
            r.push(Issue::new(
                ProblemKind::WrongType {
                    key: e.key.to_owned(),
                    context: context.to_owned(),
                    expected: "a list of values (strings, numbers or booleans)".into(),
                    found: format!("{} as an entry", item.kind()),
                },
                item.span,
                "expected a value",
            ));
            ok = false;
            continue;
        };
        if text.trim().is_empty() {
            r.invalid(e.key, context, item.span, "a value is empty");
            ok = false;
        } else if values.contains(&text) {
            r.invalid_help(
                e.key,
                context,
                item.span,
                format!("`{text}` is listed twice"),
                "list each value once: each value makes its own jobs",
            );
            ok = false;
        } else {
            values.push(text);
        }
    }
    ok.then(|| (e.key.to_owned(), values))
}

/// Every combination of the axes, the first axis varying slowest (nested loops in file
/// order).
pub(crate) fn combinations(axes: &[Axis]) -> Vec<IndexMap<String, String>> {
    let mut out = vec![IndexMap::new()];
    for (name, values) in axes {
        out = out
            .into_iter()
            .flat_map(|combo| {
                values.iter().map(move |v| {
                    let mut next = combo.clone();
                    next.insert(name.clone(), v.clone());
                    next
                })
            })
            .collect();
    }
    out
}

/// The name of one expansion: `test (A=x, B=y)`.
pub(crate) fn expanded_name(base: &str, combo: &IndexMap<String, String>) -> String {
    let pairs: Vec<String> = combo.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{base} ({})", pairs.join(", "))
}

/// The expanded names of every matrix job, each mapped to its base name.
pub(crate) fn expanded_names(spans: &Spans) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (base, job) in &spans.jobs {
        if job.matrix.is_empty() {
            continue;
        }
        for combo in combinations(&job.matrix) {
            out.insert(expanded_name(base, &combo), base.clone());
        }
    }
    out
}

/// Replaces each matrix job by its expansions (in place, in matrix order) and each `needs`
/// (and `needs` without artifacts) naming a matrix job by all its expansions. Runs on a
/// validated pipeline.
pub(crate) fn expand(mut pipeline: Pipeline, spans: &Spans) -> Pipeline {
    let mut expansions: HashMap<String, Vec<String>> = HashMap::new();
    let mut jobs: IndexMap<String, Job> = IndexMap::with_capacity(pipeline.jobs.len());
    let bases = std::mem::take(&mut pipeline.jobs);
    for (base, job) in bases {
        let axes = spans
            .jobs
            .get(&base)
            .map(|s| s.matrix.as_slice())
            .unwrap_or(&[]);
        if axes.is_empty() {
            jobs.insert(base, job);
            continue;
        }
        let names = expansions.entry(base.clone()).or_default();
        for combo in combinations(axes) {
            let mut one = job.clone();
            one.name = expanded_name(&base, &combo);
            for (k, v) in &combo {
                one.variables.insert(k.clone(), v.clone());
            }
            one.matrix = combo;
            names.push(one.name.clone());
            jobs.insert(one.name.clone(), one);
        }
    }
    for job in jobs.values_mut() {
        job.needs = expand_names(&job.needs, &expansions);
        // The jobs whose artifacts are left follow their names: validation made sure that
        // no expansion is both taken (through its matrix job) and left (by its full name).
        job.needs_without_artifacts = expand_names(&job.needs_without_artifacts, &expansions);
    }
    pipeline.jobs = jobs;
    pipeline
}

/// `names` with each matrix job replaced by its expansions, each name once, in order.
fn expand_names(names: &[String], expansions: &HashMap<String, Vec<String>>) -> Vec<String> {
    let mut out = Vec::with_capacity(names.len());
    for need in names {
        let names = match expansions.get(need) {
            Some(names) => names.as_slice(),
            None => std::slice::from_ref(need),
        };
        for name in names {
            if !out.contains(name) {
                out.push(name.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combinations_vary_the_last_axis_fastest() {
        let axes = vec![
            ("A".to_owned(), vec!["1".to_owned(), "2".to_owned()]),
            (
                "B".to_owned(),
                vec!["x".to_owned(), "y".to_owned(), "z".to_owned()],
            ),
        ];
        let names: Vec<String> = combinations(&axes)
            .iter()
            .map(|c| expanded_name("t", c))
            .collect();
        assert_eq!(
            names,
            [
                "t (A=1, B=x)",
                "t (A=1, B=y)",
                "t (A=1, B=z)",
                "t (A=2, B=x)",
                "t (A=2, B=y)",
                "t (A=2, B=z)"
            ]
        );
    }
}
