//! The schema of one job: its steps, needs, env, variables, services, limits, and (read
//! by `shards` and `matrix`) its shards, tests and matrix.

use crate::decode::{JobSpans, env};
use crate::errors::{Issue, ProblemKind};
use crate::model::{Job, Resources, Service};
use crate::read::{Entry, Extra, Reader};
use crate::yaml::Value;
use indexmap::IndexMap;
use std::time::Duration;

pub(crate) const JOB_KEYS: &[&str] = &[
    "script",
    "needs",
    "env",
    "variables",
    "services",
    "timeout",
    "allow_failure",
    "manual",
    "artifacts",
    "resources",
    "parallel",
    "tests",
    "retry_failed",
    "matrix",
    "runs_on",
    "when",
    "image_build",
    "concurrency",
    "environment",
    "cache",
];
pub(crate) const SERVICE_KEYS: &[&str] =
    &["image", "variables", "command", "ready", "ready_timeout"];
const RESOURCE_KEYS: &[&str] = &["cpus", "memory"];

/// How long a service's `ready` probe is retried by default.
pub const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The smallest memory limit the Docker engine accepts (6 MiB).
pub const MIN_MEMORY: u64 = 6 << 20;

/// Reads one job. The job is returned even when parts of it are wrong, so that the graph
/// checks still know its name.
pub(crate) fn job(r: &mut Reader<'_>, entry: Entry<'_>) -> (Job, JobSpans) {
    let name = entry.key.to_owned();
    check_job_name(r, entry);
    let mut spans = JobSpans {
        key: entry.key_span,
        ..JobSpans::default()
    };
    let mut job = Job {
        name: name.clone(),
        script: Vec::new(),
        needs: Vec::new(),
        env: None,
        variables: IndexMap::new(),
        services: IndexMap::new(),
        timeout: None,
        allow_failure: false,
        when: None,
        manual: false,
        artifacts: Vec::new(),
        artifacts_when: Default::default(),
        needs_without_artifacts: Vec::new(),
        caches: Vec::new(),
        image_build: None,
        concurrency: None,
        environment: None,
        resources: Resources::default(),
        base_name: name.clone(),
        matrix: IndexMap::new(),
        parallel: 1,
        tests: None,
        retry_failed: 0,
        runs_on: Vec::new(),
    };
    let no_steps = |span| {
        Issue::new(ProblemKind::NoSteps { job: name.clone() }, span, "no steps")
            .help("give the job a `script:` with at least one command, or a `tests:` block")
    };
    if let Value::Null = entry.value.value {
        r.push(no_steps(entry.key_span));
        return (job, spans);
    }
    let context = format!("in job `{name}`");
    let Some(fields) = r.fields(entry, &context, JOB_KEYS, Extra::Future) else {
        return (job, spans);
    };
    // With `tests`, the steps are optional: they prepare each shard before its tests.
    let has_tests = fields.get("tests").is_some() || fields.misspelled("tests");
    match fields.get("script") {
        None if fields.misspelled("script") || has_tests => {}
        None => r.push(no_steps(
            fields.key_span("script").unwrap_or(entry.key_span),
        )),
        Some(e) => {
            let steps = r.string_or_list(e, &context, "a command or a list of commands");
            match steps {
                Some(steps) if steps.is_empty() && !has_tests => r.push(no_steps(e.key_span)),
                Some(steps) => job.script = steps.into_iter().map(|(s, _)| s).collect(),
                None => {}
            }
        }
    }
    if let Some(e) = fields.get("needs") {
        crate::handover::needs(r, e, &context, &mut job, &mut spans);
    }
    spans.env_given = fields.misspelled("env");
    if let Some(e) = fields.get("env") {
        spans.env_given = true;
        job.env = env(r, e, &crate::read::nested("env", &context));
    }
    if let Some(e) = fields.get("variables") {
        crate::shards::reserved_variables(r, e, &context);
        job.variables = r.string_map(e, &context, true);
    }
    if let Some(e) = fields.get("services")
        && let Some(services) = r.entries(e, &context, "a map of service names to services")
    {
        for s in services {
            if let Some(service) = service(r, &name, s) {
                job.services.insert(service.name.clone(), service);
            }
        }
    }
    job.timeout = fields.get("timeout").and_then(|e| r.duration(e, &context));
    if let Some(e) = fields.get("allow_failure") {
        job.allow_failure = r.bool(e, &context).unwrap_or(false);
    }
    if let Some(e) = fields.get("manual") {
        job.manual = r.bool(e, &context).unwrap_or(false);
    }
    if let Some(e) = fields.get("artifacts") {
        crate::handover::artifacts(r, e, &context, &mut job);
    }
    if let Some(e) = fields.get("runs_on") {
        job.runs_on = crate::labels::runs_on(r, e, &context);
    }
    // `when`: the runs the job runs on (see `when.rs`).
    job.when = fields
        .get("when")
        .and_then(|e| crate::when::when(r, e, &context));
    if let Some(e) = fields.get("resources") {
        job.resources = resources(r, e, &name);
    }
    if let Some(e) = fields.get("parallel") {
        job.parallel = crate::shards::parallel(r, e, &context).unwrap_or(1);
    }
    job.tests = fields
        .get("tests")
        .and_then(|e| crate::shards::tests(r, e, &context));
    if let Some(e) = fields.get("retry_failed") {
        job.retry_failed = crate::shards::retry_failed(r, e, &context).unwrap_or(0);
        if !has_tests {
            r.push(
                Issue::new(
                    ProblemKind::Requires {
                        key: "retry_failed".into(),
                        required: "tests".into(),
                        context: context.clone(),
                    },
                    e.key_span,
                    "no `tests` in this job",
                )
                .help(
                    "add a `tests:` block (`list`, `run`, `junit`): only tests named in its                      reports can be rerun",
                ),
            );
        }
    }
    spans.matrix_given = fields.get("matrix").is_some();
    if let Some(e) = fields.get("matrix")
        && let Some(axes) = crate::matrix::matrix(r, e, &context)
    {
        spans.matrix = axes;
        matrix_over_variables(r, &job, e, &context);
    }
    job.concurrency = fields
        .get("concurrency")
        .and_then(|e| crate::deploy::concurrency(r, e, &context));
    job.environment = fields
        .get("environment")
        .and_then(|e| crate::deploy::environment(r, e, &context));
    if let Some(e) = fields.get("cache") {
        job.caches = crate::cache::caches(r, e, &context);
    }
    if let Some(e) = fields.get("image_build") {
        job.image_build = crate::image::image_build(r, e, &context);
        crate::image::one_builder(r, &fields, e, job.parallel, &context);
    }
    (job, spans)
}

/// A matrix variable also set in the job's own `variables`: which one the job sees would
/// be a guess, so it is an error (a top-level variable is overridden, as by the job's).
fn matrix_over_variables(r: &mut Reader<'_>, job: &Job, matrix: Entry<'_>, context: &str) {
    let Value::Map(pairs) = &matrix.value.value else {
        return;
    };
    for (key, _) in pairs {
        if let Some(name) = key.scalar_text(r.source)
            && job.variables.contains_key(&name)
        {
            r.invalid_help(
                &name,
                &crate::read::nested("matrix", context),
                key.span,
                "also set in the job's `variables`",
                format!("remove `{name}` from `variables`: the matrix sets it in each of its jobs"),
            );
        }
    }
}

/// Job names: non-empty, no control characters, no surrounding spaces.
fn check_job_name(r: &mut Reader<'_>, entry: Entry<'_>) {
    let name = entry.key;
    let reason = if name.trim().is_empty() {
        "a job name must not be empty"
    } else if name.trim() != name {
        "a job name must not start or end with spaces"
    } else if name.chars().any(char::is_control) {
        "a job name must not contain control characters"
    } else {
        return;
    };
    r.push(
        Issue::new(
            ProblemKind::BadJobName {
                name: name.into(),
                reason: reason.into(),
            },
            entry.key_span,
            "invalid job name",
        )
        .help("name jobs with words such as `build` or `unit-tests`"),
    );
}

fn service(r: &mut Reader<'_>, job: &str, entry: Entry<'_>) -> Option<Service> {
    let name = entry.key.to_owned();
    let name_ok = check_service_name(r, job, entry);
    let context = format!("in service `{name}` of job `{job}`");
    let mut service = Service {
        name: name.clone(),
        image: String::new(),
        variables: IndexMap::new(),
        command: None,
        ready: None,
        ready_timeout: DEFAULT_READY_TIMEOUT,
    };
    // `db: postgres:16` is short for `db: { image: postgres:16 }`.
    if let Value::Str(_) = entry.value.value {
        service.image = r.non_empty(
            Entry {
                key: "image",
                ..entry
            },
            &context,
        )?;
        return name_ok.then_some(service);
    }
    let fields = r.fields(entry, &context, SERVICE_KEYS, Extra::Nothing)?;
    match fields.get("image") {
        Some(e) => service.image = r.non_empty(e, &context)?,
        None if fields.misspelled("image") => return None,
        None => {
            r.push(
                Issue::new(
                    ProblemKind::MissingKey {
                        key: "image".into(),
                        context: context.clone(),
                    },
                    entry.key_span,
                    "no `image`",
                )
                .help(format!(
                    "add `image:` to the service, e.g. `{name}: {{ image: postgres:16 }}`"
                )),
            );
            return None;
        }
    }
    if let Some(e) = fields.get("variables") {
        service.variables = r.string_map(e, &context, true);
    }
    if let Some(e) = fields.get("command") {
        let one_string = !matches!(e.value.value, Value::Seq(_));
        let parts = r.string_or_list(e, &context, "a command string or a list of arguments")?;
        if parts.is_empty() {
            r.invalid("command", &context, e.value.span, "the command is empty");
            return None;
        }
        let parts: Vec<String> = parts.into_iter().map(|(s, _)| s).collect();
        service.command = Some(if one_string {
            vec!["sh".into(), "-c".into(), parts[0].clone()]
        } else {
            parts
        });
    }
    service.ready = fields.get("ready").and_then(|e| r.non_empty(e, &context));
    if let Some(e) = fields.get("ready_timeout") {
        service.ready_timeout = r.duration(e, &context)?;
    }
    name_ok.then_some(service)
}

/// A service name is the host name the job reaches it by: an RFC 1123 DNS label, lower
/// case (so it also works as a Kubernetes name later).
fn check_service_name(r: &mut Reader<'_>, job: &str, entry: Entry<'_>) -> bool {
    let name = entry.key;
    let reason = if name.is_empty() {
        "a service name must not be empty"
    } else if name.len() > 63 {
        "a service name is at most 63 characters"
    } else if !name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        "a service name is lower-case letters, digits and `-` (it becomes a host name)"
    } else if name.starts_with('-') || name.ends_with('-') {
        "a service name must not start or end with `-`"
    } else {
        return true;
    };
    let fixed: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let fixed = fixed.trim_matches('-');
    let help = if fixed.is_empty() || fixed.len() > 63 {
        "use a host name such as `db` or `redis-cache`".to_owned()
    } else {
        format!("use a host name such as `{fixed}`")
    };
    r.push(
        Issue::new(
            ProblemKind::BadServiceName {
                job: job.into(),
                name: name.into(),
                reason: reason.into(),
            },
            entry.key_span,
            "not a DNS label",
        )
        .help(help),
    );
    false
}

fn resources(r: &mut Reader<'_>, entry: Entry<'_>, job: &str) -> Resources {
    let mut out = Resources::default();
    let Some((fields, context)) = r.sub_fields(entry, &format!("in job `{job}`"), RESOURCE_KEYS)
    else {
        return out;
    };
    if let Some(e) = fields.get("cpus") {
        match r.number(e, &context) {
            Some(n) if !(n.is_finite() && n > 0.0) => r.invalid(
                "cpus",
                &context,
                e.value.span,
                "must be more than 0 (e.g. `0.5` or `2`)",
            ),
            Some(n) if n > 1024.0 => {
                r.invalid("cpus", &context, e.value.span, "more than 1024 CPUs")
            }
            n => out.cpus = n,
        }
    }
    if let Some(e) = fields.get("memory") {
        let parsed = match &e.value.value {
            Value::Int(i) if *i >= 0 => u64::try_from(*i).map_err(|_| "too large".to_owned()),
            Value::Str(s) => crate::units::parse_memory(s),
            _ => {
                r.wrong_type("memory", &context, e.value, "a size like `512m` or `4g`");
                return out;
            }
        };
        match parsed {
            Err(reason) => r.invalid("memory", &context, e.value.span, reason),
            Ok(bytes) if bytes < MIN_MEMORY => {
                let mut issue = Issue::new(
                    ProblemKind::InvalidValue {
                        key: "memory".into(),
                        context: context.clone(),
                        reason: format!(
                            "{} is below the engine's minimum of {}",
                            crate::units::format_memory(bytes),
                            crate::units::format_memory(MIN_MEMORY)
                        ),
                    },
                    e.value.span,
                    "too small",
                );
                if let Value::Int(_) = e.value.value {
                    issue = issue.help(format!(
                        "a number without a unit is bytes: did you mean `{bytes}m`?"
                    ));
                }
                r.push(issue);
            }
            Ok(bytes) => out.memory = Some(bytes),
        }
    }
    out
}
