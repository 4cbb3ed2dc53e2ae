//! A job's `when:` rule: on which runs the job runs at all. `event`, `branch` and `tag` are
//! each optional lists; every condition given must hold, and any entry of a list matches.
//! The rule is read here with line/column errors, and judged by [`When::check`], a pure
//! function of the run's [`RunContext`], the same on the server and in a local run, so a
//! job skipped on one is skipped on the other for the same reason.

use crate::errors::suggest;
use crate::read::{Entry, Reader, list_keys};
use crate::yaml::Span;
use globset::GlobBuilder;
use railyard_types::context::{RunContext, RunEvent};
use serde::{Deserialize, Serialize};

pub(crate) const WHEN_KEYS: &[&str] = &["event", "branch", "tag"];

/// A job's `when:`: the runs it runs on. An empty list is no condition (the parser refuses
/// empty lists, so only an absent key is empty here).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct When {
    /// The run's event must be one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event: Vec<RunEvent>,
    /// The run's branch ([`RunContext::branch`]: a pull request's target branch) must match
    /// one of these patterns; a run without a branch (a tag's) never matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branch: Vec<String>,
    /// The run's tag must match one of these patterns; a run without a tag never matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag: Vec<String>,
}

impl When {
    /// `Ok` when the job runs in a run of `context`; else why not, as the job's status line
    /// shows it (`skipped: `when` wants event `pull_request`; this run's is `push``).
    pub fn check(&self, context: &RunContext) -> Result<(), String> {
        if !self.event.is_empty() && !self.event.contains(&context.event) {
            let wanted: Vec<&str> = self.event.iter().map(|e| e.as_str()).collect();
            return Err(format!(
                "skipped: `when` wants event {}; this run's is `{}`",
                alternatives(&wanted),
                context.event
            ));
        }
        let name = |s: &str| format!("`{s}`");
        let refs = [
            ("branch", &self.branch, context.branch()),
            ("tag", &self.tag, context.tag()),
        ];
        for (what, patterns, value) in refs {
            if patterns.is_empty() {
                continue;
            }
            let wanted: Vec<&str> = patterns.iter().map(String::as_str).collect();
            let wanted = alternatives(&wanted);
            match value {
                None => {
                    let ours = match (context.branch(), context.tag()) {
                        (Some(b), _) => format!("is for branch {}", name(b)),
                        (None, Some(t)) => format!("is for tag {}", name(t)),
                        (None, None) => "has no branch or tag".to_owned(),
                    };
                    return Err(format!(
                        "skipped: `when` wants {what} {wanted}; this run {ours}"
                    ));
                }
                Some(v) if !patterns.iter().any(|p| matches(p, v)) => {
                    return Err(format!(
                        "skipped: `when` wants {what} {wanted}; this run's is {}",
                        name(v)
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Whether the branch or tag `name` matches `pattern`: a glob where `*` and `?` stop at `/`
/// (`release/*` is `release/2`, not `release/2/hotfix`), `**` crosses it, `[…]` and `{a,b}`
/// as usual. A pattern the parser would refuse matches nothing.
pub fn matches(pattern: &str, name: &str) -> bool {
    glob(pattern).is_ok_and(|g| g.compile_matcher().is_match(name))
}

fn glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
}

/// The JSON Schema of `when:` (see `schema.rs`).
pub(crate) fn schema() -> serde_json::Value {
    let events: Vec<&str> = RunEvent::ALL.iter().map(|e| e.as_str()).collect();
    let one_or_more = |item: serde_json::Value, description: &str| {
        serde_json::json!({
            "description": description,
            "oneOf": [item.clone(), { "type": "array", "minItems": 1, "items": item }]
        })
    };
    serde_json::json!({
        "type": "object",
        "minProperties": 1,
        "additionalProperties": false,
        "description": "The runs the job runs on: every condition given must hold, any entry of a list matches; otherwise the job, and the jobs that need it, end skipped.",
        "properties": {
            "event": one_or_more(serde_json::json!({ "enum": events }), "The run's event."),
            "branch": one_or_more(serde_json::json!({ "type": "string", "minLength": 1 }), "Branch patterns (`main`, `release/*`): a pull request's target branch; never matches a tag's run."),
            "tag": one_or_more(serde_json::json!({ "type": "string", "minLength": 1 }), "Tag patterns (`v*`); never matches a branch's run.")
        }
    })
}

/// `` `a` `` , `` `a` or `b` ``, `` `a`, `b` or `c` ``.
fn alternatives(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// Reads `when: { event: […], branch: […], tag: […] }`. Every problem is reported; `None`
/// when any was found (a job with a broken rule is never run by guess).
pub(crate) fn when(r: &mut Reader<'_>, entry: Entry<'_>, context: &str) -> Option<When> {
    let (fields, inner) = r.sub_fields(entry, context, WHEN_KEYS)?;
    let before = r.issues.len();
    let mut rule = When::default();
    let mut any = false;
    if let Some(e) = fields.get("event") {
        any = true;
        let names = list(r, e, &inner, "an event or a list of events").unwrap_or_default();
        for (name, span) in names {
            match RunEvent::parse(&name) {
                Some(event) if !rule.event.contains(&event) => rule.event.push(event),
                Some(_) => {}
                None => unknown_event(r, &name, span, &inner),
            }
        }
    }
    for key in ["branch", "tag"] {
        let Some(e) = fields.get(key) else { continue };
        any = true;
        let expected = format!("a {key} pattern or a list of them");
        let patterns = list(r, e, &inner, &expected).unwrap_or_default();
        for (pattern, span) in patterns {
            if let Err(err) = glob(&pattern) {
                r.invalid_help(
                    key,
                    &inner,
                    span,
                    format!("`{pattern}` is not a valid pattern: {}", err.kind()),
                    "patterns are globs: `*` matches within one `/` segment, `**` across, \
                     `?` one character, `[…]` and `{a,b}` as in a shell",
                );
            } else if key == "branch" && pattern.starts_with("refs/") {
                r.invalid_help(
                    key,
                    &inner,
                    span,
                    format!("`{pattern}` is a full ref; `branch` matches branch names"),
                    "write the branch's name, e.g. `main` or `release/*`",
                );
            } else if key == "branch" {
                rule.branch.push(pattern);
            } else {
                rule.tag.push(pattern);
            }
        }
    }
    if !any && fields_empty(entry) {
        r.invalid_help(
            "when",
            context,
            entry.value.span,
            "the rule has no condition",
            format!(
                "give it {}, or remove `when` to run the job on every run",
                list_keys(WHEN_KEYS)
            ),
        );
        return None;
    }
    (r.issues.len() == before).then_some(rule)
}

/// Whether the map written has no entries at all (`when: {}`): unknown keys were reported
/// already and need no second message.
fn fields_empty(entry: Entry<'_>) -> bool {
    matches!(&entry.value.value, crate::yaml::Value::Map(pairs) if pairs.is_empty())
}

/// A string or a list of strings, not empty.
fn list(
    r: &mut Reader<'_>,
    entry: Entry<'_>,
    context: &str,
    expected: &str,
) -> Option<Vec<(String, Span)>> {
    let items = r.string_or_list(entry, context, expected)?;
    if items.is_empty() {
        r.invalid_help(
            entry.key,
            context,
            entry.value.span,
            "an empty list matches nothing",
            format!(
                "remove `{}` to match any, or list what it should match",
                entry.key
            ),
        );
        return None;
    }
    Some(items)
}

fn unknown_event(r: &mut Reader<'_>, name: &str, span: Span, context: &str) {
    let names: Vec<&str> = RunEvent::ALL.iter().map(|e| e.as_str()).collect();
    let help = match suggest(name, names.iter().copied()) {
        Some(s) => format!("did you mean `{s}`? The events: {}", list_keys(&names)),
        None if name == "merge_request" || name == "pr" => format!(
            "a merge request is `pull_request` on every forge; the events: {}",
            list_keys(&names)
        ),
        None => format!("the events: {}", list_keys(&names)),
    };
    r.invalid_help(
        "event",
        context,
        span,
        format!("unknown event `{name}`"),
        help,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use railyard_types::context::PullRequest;

    fn push(branch: &str) -> RunContext {
        RunContext::for_ref("abc", Some(format!("refs/heads/{branch}")))
    }

    #[test]
    fn patterns_stop_at_slashes_unless_doubled() {
        assert!(matches("main", "main"));
        assert!(!matches("main", "main2"));
        assert!(matches("release/*", "release/2"));
        assert!(!matches("release/*", "release/2/hotfix"));
        assert!(matches("release/**", "release/2/hotfix"));
        assert!(matches("v[0-9]*", "v1.2"));
        assert!(matches("{main,dev}", "dev"));
        assert!(!matches("[", "["));
    }

    #[test]
    fn every_condition_must_hold_and_any_entry_matches() {
        let rule = When {
            event: vec![RunEvent::Push, RunEvent::PullRequest],
            branch: vec!["main".into(), "release/*".into()],
            tag: vec![],
        };
        assert_eq!(rule.check(&push("main")), Ok(()));
        assert_eq!(rule.check(&push("release/3")), Ok(()));
        assert_eq!(
            rule.check(&push("feature")),
            Err(
                "skipped: `when` wants branch `main` or `release/*`; this run's is `feature`"
                    .into()
            )
        );
        let mut pr = RunContext::for_ref("abc", Some("refs/pull/7/head".into()));
        pr.event = RunEvent::PullRequest;
        pr.pull_request = Some(PullRequest {
            number: 7,
            source_branch: "feature".into(),
            target_branch: "main".into(),
            from_fork: false,
        });
        // A pull request is judged by its target branch.
        assert_eq!(rule.check(&pr), Ok(()));
        let mut trigger = push("main");
        trigger.event = RunEvent::Trigger;
        assert_eq!(
            rule.check(&trigger),
            Err(
                "skipped: `when` wants event `push` or `pull_request`; this run's is `trigger`"
                    .into()
            )
        );
    }

    #[test]
    fn a_branch_rule_never_matches_a_tag_and_a_tag_rule_no_branch() {
        let tag = RunContext::for_ref("abc", Some("refs/tags/v1.0".into()));
        let on_main = When {
            branch: vec!["**".into()],
            ..When::default()
        };
        assert_eq!(
            on_main.check(&tag),
            Err("skipped: `when` wants branch `**`; this run is for tag `v1.0`".into())
        );
        let releases = When {
            tag: vec!["v*".into()],
            ..When::default()
        };
        assert_eq!(releases.check(&tag), Ok(()));
        assert_eq!(
            releases.check(&push("main")),
            Err("skipped: `when` wants tag `v*`; this run is for branch `main`".into())
        );
        let bare = RunContext::for_ref("abc", None);
        assert_eq!(
            releases.check(&bare),
            Err("skipped: `when` wants tag `v*`; this run has no branch or tag".into())
        );
        assert_eq!(When::default().check(&bare), Ok(()));
    }
}
