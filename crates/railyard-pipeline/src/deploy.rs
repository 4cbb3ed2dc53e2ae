//! A deploy job's keys: `concurrency` (a named lock the job holds while it runs, shared by
//! every run and project of a server) and `environment` (what its runs are recorded as
//! deployments of). Both are names in one server-wide namespace, so both follow one rule
//! ([`deploy_name_problem`]); each has a short form (the name) and a map form.

use crate::errors::{Issue, ProblemKind};
use crate::model::Concurrency;
use crate::read::{Entry, Reader};
use crate::yaml::{Span, Value};

pub(crate) const CONCURRENCY_KEYS: &[&str] = &["group", "cancel_pending"];
pub(crate) const ENVIRONMENT_KEYS: &[&str] = &["name"];

/// The most characters of a `concurrency` group or an `environment` name.
pub const MAX_DEPLOY_NAME_LEN: usize = 128;

/// Why `name` is not a valid `concurrency` group or `environment` name, if it is not: 1 to
/// [`MAX_DEPLOY_NAME_LEN`] characters, none a control character, no spaces around it. Names are
/// compared exactly (`Production` is not `production`).
pub fn deploy_name_problem(name: &str) -> Option<String> {
    let problem = if name.trim().is_empty() {
        "the name is empty".to_owned()
    } else if name.chars().count() > MAX_DEPLOY_NAME_LEN {
        format!("the name is longer than {MAX_DEPLOY_NAME_LEN} characters")
    } else if name.chars().any(char::is_control) {
        "the name holds a control character (a tab, a line break…)".to_owned()
    } else if name.trim() != name {
        "the name starts or ends with spaces".to_owned()
    } else {
        return None;
    };
    Some(problem)
}

/// `concurrency: GROUP` or `concurrency: { group: GROUP, cancel_pending: BOOL }`.
pub(crate) fn concurrency(
    r: &mut Reader<'_>,
    entry: Entry<'_>,
    context: &str,
) -> Option<Concurrency> {
    let expected = "a group name, or a map with `group` and `cancel_pending`";
    if !matches!(entry.value.value, Value::Map(_)) {
        let group = name(r, entry, context, expected)?;
        return Some(Concurrency {
            group,
            cancel_pending: false,
        });
    }
    let (fields, inner) = r.sub_fields(entry, context, CONCURRENCY_KEYS)?;
    let cancel_pending = match fields.get("cancel_pending") {
        Some(e) => r.bool(e, &inner)?,
        None => false,
    };
    let group = match fields.get("group") {
        Some(e) => name(r, e, &inner, "a group name")?,
        None => {
            missing(
                r,
                &fields,
                "group",
                entry.key_span,
                &inner,
                "group: production",
            );
            return None;
        }
    };
    Some(Concurrency {
        group,
        cancel_pending,
    })
}

/// `environment: NAME` or `environment: { name: NAME }`.
pub(crate) fn environment(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<String> {
    let expected = "an environment name, or a map with `name`";
    if !matches!(entry.value.value, Value::Map(_)) {
        return name(r, entry, context, expected);
    }
    let (fields, inner) = r.sub_fields(entry, context, ENVIRONMENT_KEYS)?;
    match fields.get("name") {
        Some(e) => name(r, e, &inner, "an environment name"),
        None => {
            missing(
                r,
                &fields,
                "name",
                entry.key_span,
                &inner,
                "name: production",
            );
            None
        }
    }
}

/// A name (numbers and booleans read as written), checked by [`deploy_name_problem`].
fn name(r: &mut Reader<'_>, entry: Entry<'_>, context: &str, expected: &str) -> Option<String> {
    let Some(text) = entry.value.scalar_text(r.source) else {
        r.wrong_type(entry.key, context, entry.value, expected);
        return None;
    };
    if let Some(reason) = deploy_name_problem(&text) {
        r.invalid_help(
            entry.key,
            context,
            entry.value.span,
            reason,
            format!(
                "use a name such as `production` or `deploy-eu`: one name for every run and \
                 project of the server, at most {MAX_DEPLOY_NAME_LEN} characters"
            ),
        );
        return None;
    }
    Some(text)
}

fn missing(
    r: &mut Reader<'_>,
    fields: &crate::read::Fields<'_>,
    key: &str,
    span: Span,
    context: &str,
    example: &str,
) {
    if fields.misspelled(key) {
        return;
    }
    r.push(
        Issue::new(
            ProblemKind::MissingKey {
                key: key.into(),
                context: context.into(),
            },
            fields.key_span(key).unwrap_or(span),
            format!("no `{key}`"),
        )
        .help(format!("add `{example}`")),
    );
}
