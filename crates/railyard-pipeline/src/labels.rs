//! A job's `runs_on`: the labels an agent must all have to take the job. The same rule
//! checks an agent's own labels (`railyard agent --labels`), so the two always match.

use crate::read::{Entry, Reader};

/// The most characters of one label.
pub const MAX_LABEL_LEN: usize = 63;

/// Why `label` is not a valid agent label, if it is not: 1 to [`MAX_LABEL_LEN`] letters,
/// digits, `-`, `_`, `.` and `:`, starting with a letter or digit. Labels are compared
/// exactly (`GPU` is not `gpu`).
pub fn label_problem(label: &str) -> Option<String> {
    let problem = if label.is_empty() {
        "a label must not be empty".to_owned()
    } else if label.chars().count() > MAX_LABEL_LEN {
        format!("`{label}` is longer than {MAX_LABEL_LEN} characters")
    } else if !label
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        format!("`{label}` may hold only letters, digits, `-`, `_`, `.` and `:`")
    } else if !label.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        format!("`{label}` must start with a letter or a digit")
    } else {
        return None;
    };
    Some(problem)
}

/// `runs_on: label` or `runs_on: [label, …]`: the labels, each once, in file order. Bad
/// labels are reported and left out.
pub(crate) fn runs_on(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Vec<String> {
    let Some(items) = r.string_or_list(entry, context, "a label or a list of labels") else {
        return Vec::new();
    };
    let mut labels: Vec<String> = Vec::new();
    for (label, span) in items {
        if let Some(reason) = label_problem(&label) {
            r.invalid_help(
                "runs_on",
                context,
                span,
                reason,
                "name agent labels like `linux`, `gpu` or `arch:arm64`, as given to `railyard agent --labels`",
            );
        } else if !labels.contains(&label) {
            labels.push(label);
        }
    }
    labels
}
