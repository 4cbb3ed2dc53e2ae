//! Typed reading of YAML nodes: maps with known keys, strings, lists, booleans, numbers,
//! durations and sizes. Every mismatch becomes an [`Issue`] naming the key and where it is;
//! readers return `None` and carry on, so one pass reports every problem of the file.

use crate::errors::{Issue, ProblemKind, suggest};
use crate::yaml::{Node, Span, Value};
use indexmap::IndexMap;
use std::time::Duration;

/// Collects issues while reading one source.
pub(crate) struct Reader<'s> {
    pub source: &'s str,
    pub issues: Vec<Issue>,
}

/// A key of a map with its value.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'n> {
    pub key: &'n str,
    pub key_span: Span,
    pub value: &'n Node,
}

/// The entries of a map whose keys were checked against the known ones.
pub(crate) struct Fields<'n> {
    entries: Vec<Entry<'n>>,
    /// Known keys that an unknown key was taken for a typo of.
    suggested: Vec<String>,
}

impl<'n> Fields<'n> {
    /// The entry of `key`, unless absent or null (`key:` with nothing after it).
    pub fn get(&self, key: &str) -> Option<Entry<'n>> {
        self.entries
            .iter()
            .find(|e| e.key == key && !matches!(e.value.value, Value::Null))
            .copied()
    }

    /// The span of `key` when it is written, even with no value.
    pub fn key_span(&self, key: &str) -> Option<Span> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.key_span)
    }

    /// Whether an unknown key of this map looked like a typo of `key`: then "`key` is
    /// missing" would only repeat that problem.
    pub fn misspelled(&self, key: &str) -> bool {
        self.suggested.iter().any(|s| s == key)
    }
}

/// Which keys besides the known ones a map accepts.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Extra {
    /// None: everything else is an unknown key.
    Nothing,
    /// Keys starting with `.` are ignored (top level: they hold YAML anchors).
    Hidden,
    /// Keys planned for later versions are "not supported yet" (jobs).
    Future,
}

/// Keys planned for later versions: rejected with "not supported yet" and this hint.
const FUTURE_KEYS: &[(&str, &str)] = &[];

impl<'s> Reader<'s> {
    pub fn new(source: &'s str) -> Self {
        Reader {
            source,
            issues: Vec::new(),
        }
    }

    pub fn push(&mut self, issue: Issue) {
        self.issues.push(issue);
    }

    /// Reports that `node` (the value of `key`) is not what it must be.
    pub fn wrong_type(&mut self, key: &str, context: &str, node: &Node, expected: &str) {
        self.push(Issue::new(
            ProblemKind::WrongType {
                key: key.to_owned(),
                context: context.to_owned(),
                expected: expected.to_owned(),
                found: node.kind().to_owned(),
            },
            node.span,
            format!("expected {expected}"),
        ));
    }

    /// Reports a value of the right type that makes no sense.
    pub fn invalid(&mut self, key: &str, context: &str, span: Span, reason: impl Into<String>) {
        let reason = reason.into();
        self.push(Issue::new(
            ProblemKind::InvalidValue {
                key: key.to_owned(),
                context: context.to_owned(),
                reason: reason.clone(),
            },
            span,
            reason,
        ));
    }

    /// Like [`Reader::invalid`], with a hint.
    pub fn invalid_help(
        &mut self,
        key: &str,
        context: &str,
        span: Span,
        reason: impl Into<String>,
        help: impl Into<String>,
    ) {
        let reason = reason.into();
        self.push(
            Issue::new(
                ProblemKind::InvalidValue {
                    key: key.to_owned(),
                    context: context.to_owned(),
                    reason: reason.clone(),
                },
                span,
                reason,
            )
            .help(help),
        );
    }

    /// The entries of a map, keys as strings; duplicates reported. `what` names the map for
    /// a wrong-type message. Null reads as an empty map.
    pub fn entries<'n>(
        &mut self,
        entry: Entry<'n>,
        context: &str,
        expected: &str,
    ) -> Option<Vec<Entry<'n>>>
    where
        's: 'n,
    {
        match &entry.value.value {
            Value::Null => Some(Vec::new()),
            Value::Map(pairs) => Some(self.map_entries(pairs)),
            _ => {
                self.wrong_type(entry.key, context, entry.value, expected);
                None
            }
        }
    }

    /// The entries of a map node, keys read as strings, duplicates reported.
    pub fn map_entries<'n>(&mut self, pairs: &'n [(Node, Node)]) -> Vec<Entry<'n>>
    where
        's: 'n,
    {
        let mut out: Vec<Entry<'n>> = Vec::with_capacity(pairs.len());
        for (key, value) in pairs {
            let name: &'n str = match &key.value {
                Value::Str(s) => s,
                Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Null => self
                    .source
                    .get(key.defined.offset..key.defined.end())
                    .unwrap_or(""),
                Value::Seq(_) | Value::Map(_) => {
                    self.push(
                        Issue::new(
                            ProblemKind::WrongType {
                                key: "a key".into(),
                                context: "of a map".into(),
                                expected: "a plain string".into(),
                                found: key.kind().into(),
                            },
                            key.span,
                            "expected a string",
                        )
                        .help("write keys as plain words, e.g. `build:`"),
                    );
                    continue;
                }
            };
            if let Some(first) = out.iter().find(|e| e.key == name) {
                let (line, _) = crate::yaml::LineIndex::new(self.source)
                    .line_column(self.source, first.key_span.offset);
                self.push(
                    Issue::new(
                        ProblemKind::DuplicateKey { key: name.into() },
                        key.span,
                        "duplicate key",
                    )
                    .help(format!(
                        "`{name}` is already set on line {line}; keep one of them"
                    )),
                );
                continue;
            }
            out.push(Entry {
                key: name,
                key_span: key.span,
                value,
            });
        }
        out
    }

    /// A map with a fixed set of keys; unknown keys are reported with a suggestion.
    pub fn fields<'n>(
        &mut self,
        entry: Entry<'n>,
        context: &str,
        known: &[&str],
        extra: Extra,
    ) -> Option<Fields<'n>>
    where
        's: 'n,
    {
        let Value::Map(pairs) = &entry.value.value else {
            let expected = format!("a map (with {})", list_keys(known));
            self.wrong_type(entry.key, context, entry.value, &expected);
            return None;
        };
        let mut entries = self.map_entries(pairs);
        let mut suggested = Vec::new();
        entries.retain(|e| {
            if known.contains(&e.key) || (extra == Extra::Hidden && e.key.starts_with('.')) {
                return true;
            }
            let future = FUTURE_KEYS.iter().find(|(k, _)| *k == e.key);
            let issue = match future.filter(|_| extra == Extra::Future) {
                Some((key, hint)) => Issue::new(
                    ProblemKind::NotSupportedYet {
                        key: (*key).to_owned(),
                    },
                    e.key_span,
                    "not supported yet",
                )
                .help(format!("remove it for now: {hint}")),
                None => {
                    let suggestion = suggest(e.key, known.iter().copied());
                    suggested.extend(suggestion.clone());
                    let help = match &suggestion {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("the keys allowed here: {}", list_keys(known)),
                    };
                    Issue::new(
                        ProblemKind::UnknownKey {
                            key: e.key.to_owned(),
                            context: context.to_owned(),
                            suggestion,
                        },
                        e.key_span,
                        "unknown key",
                    )
                    .help(help)
                }
            };
            self.issues.push(issue);
            false
        });
        Some(Fields { entries, suggested })
    }

    /// The fields of the map `entry`, found `context`: a value that is not a map is
    /// reported in `context`, unknown keys in the map's own context (returned too).
    pub fn sub_fields<'n>(
        &mut self,
        entry: Entry<'n>,
        context: &str,
        known: &[&str],
    ) -> Option<(Fields<'n>, String)>
    where
        's: 'n,
    {
        if !matches!(entry.value.value, Value::Map(_)) {
            let expected = format!("a map (with {})", list_keys(known));
            self.wrong_type(entry.key, context, entry.value, &expected);
            return None;
        }
        let inner = nested(entry.key, context);
        let fields = self.fields(entry, &inner, known, Extra::Nothing)?;
        Some((fields, inner))
    }

    /// A string; numbers and booleans read as written.
    pub fn string(&mut self, entry: Entry<'_>, context: &str) -> Option<String> {
        self.string_node(entry.key, context, entry.value, "a string")
    }

    fn string_node(
        &mut self,
        key: &str,
        context: &str,
        node: &Node,
        expected: &str,
    ) -> Option<String> {
        let text = node.scalar_text(self.source);
        if text.is_none() {
            self.wrong_type(key, context, node, expected);
        }
        text
    }

    /// A string that must not be empty.
    pub fn non_empty(&mut self, entry: Entry<'_>, context: &str) -> Option<String> {
        let s = self.string(entry, context)?;
        if s.trim().is_empty() {
            self.invalid(entry.key, context, entry.value.span, "must not be empty");
            return None;
        }
        Some(s)
    }

    /// One string, or a list of strings: each with its span. Empty strings are refused.
    pub fn string_or_list(
        &mut self,
        entry: Entry<'_>,
        context: &str,
        expected: &str,
    ) -> Option<Vec<(String, Span)>> {
        let items: Vec<&Node> = match &entry.value.value {
            Value::Seq(items) => items.iter().collect(),
            Value::Map(_) | Value::Null => {
                self.wrong_type(entry.key, context, entry.value, expected);
                return None;
            }
            _ => vec![entry.value],
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            // Only an entry of the list can be a non-scalar here.
            let Some(text) = item.scalar_text(self.source) else {
                self.push(Issue::new(
                    ProblemKind::WrongType {
                        key: entry.key.to_owned(),
                        context: context.to_owned(),
                        expected: expected.to_owned(),
                        found: format!("{} as an entry", item.kind()),
                    },
                    item.span,
                    "expected a string",
                ));
                ok = false;
                continue;
            };
            if text.trim().is_empty() {
                self.invalid(entry.key, context, item.span, "an entry is empty");
                ok = false;
            } else {
                out.push((text, item.span));
            }
        }
        ok.then_some(out)
    }

    /// A map of names to strings (variables, build args). Names must be POSIX variable names
    /// when `posix_names`; null values are refused with a hint.
    pub fn string_map(
        &mut self,
        entry: Entry<'_>,
        context: &str,
        posix_names: bool,
    ) -> IndexMap<String, String> {
        let mut out = IndexMap::new();
        let expected = "a map of names to values";
        let Some(entries) = self.entries(entry, context, expected) else {
            return out;
        };
        let inner = nested(entry.key, context);
        for e in entries {
            if posix_names && !is_variable_name(e.key) {
                self.invalid(
                    e.key,
                    &inner,
                    e.key_span,
                    "a variable name is letters, digits and `_`, not starting with a digit",
                );
                continue;
            }
            if let Value::Null = e.value.value {
                self.push(
                    Issue::new(
                        ProblemKind::WrongType {
                            key: e.key.into(),
                            context: inner.clone(),
                            expected: "a string".into(),
                            found: e.value.kind().into(),
                        },
                        e.key_span,
                        "no value",
                    )
                    .help(format!("write `{}: \"\"` for an empty value", e.key)),
                );
                continue;
            }
            if let Some(v) = self.string_node(e.key, &inner, e.value, "a string, number or boolean")
            {
                out.insert(e.key.to_owned(), v);
            }
        }
        out
    }

    /// `true` or `false`.
    pub fn bool(&mut self, entry: Entry<'_>, context: &str) -> Option<bool> {
        match entry.value.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(entry.key, context, entry.value, "`true` or `false`");
                None
            }
        }
    }

    /// A number (a numeric string is accepted too).
    pub fn number(&mut self, entry: Entry<'_>, context: &str) -> Option<f64> {
        match &entry.value.value {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Str(s) if s.trim().parse::<f64>().is_ok() => s.trim().parse().ok(),
            _ => {
                self.wrong_type(entry.key, context, entry.value, "a number");
                None
            }
        }
    }

    /// A whole number; `expected` describes it for a wrong-type message. Numbers too large
    /// for the YAML parser's integers arrive as floats: they read as saturated integers.
    pub fn integer(&mut self, entry: Entry<'_>, context: &str, expected: &str) -> Option<i128> {
        match entry.value.value {
            Value::Int(i) => Some(i),
            Value::Float(f) if f.is_finite() && f.fract() == 0.0 => Some(f as i128),
            _ => {
                self.wrong_type(entry.key, context, entry.value, expected);
                None
            }
        }
    }

    /// A duration like `90s`, `20m`, `1h30m`; zero refused.
    pub fn duration(&mut self, entry: Entry<'_>, context: &str) -> Option<Duration> {
        let expected = "a duration like `90s`, `20m` or `1h30m`";
        let text = match &entry.value.value {
            Value::Str(s) => s.clone(),
            Value::Int(_) | Value::Float(_) => entry.value.scalar_text(self.source)?,
            _ => {
                self.wrong_type(entry.key, context, entry.value, expected);
                return None;
            }
        };
        match crate::units::parse_duration(&text) {
            Ok(d) if d.is_zero() => {
                self.invalid(
                    entry.key,
                    context,
                    entry.value.span,
                    "must be longer than zero",
                );
                None
            }
            Ok(d) => Some(d),
            Err(reason) => {
                self.invalid(entry.key, context, entry.value.span, reason);
                None
            }
        }
    }
}

/// The context of a key inside the map `key` found in `context`: "in job `a`" becomes
/// "in `variables` of job `a`", "at the top level" becomes "in `variables` at the top level".
pub(crate) fn nested(key: &str, context: &str) -> String {
    match context.strip_prefix("in ") {
        Some(rest) => format!("in `{key}` of {rest}"),
        None => format!("in `{key}` {context}"),
    }
}

/// `a`, `b` and `c` as backquoted names.
pub(crate) fn list_keys(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[A-Za-z_][A-Za-z0-9_]*`: a name a shell can expand.
pub(crate) fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}
