//! The raw layer: the YAML document as a tree of nodes, each with the byte span it came from.
//!
//! serde-saphyr deserializes the file into [`RawValue`]s wrapped in `Spanned` (a custom
//! `Deserialize` driven by `deserialize_any`, so no `untagged`/`flatten` buffering loses the
//! spans), and [`parse`] turns its character-based locations into byte spans of the source.
//! Reading the pipeline schema from this tree (rather than from derived structs) lets the
//! decoder report every unknown key with a suggestion, name the key of a wrong type, and
//! accept "one string or a list" without losing a location.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};
use std::fmt;

/// A byte range of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Span {
    /// Byte offset of the first byte.
    pub offset: usize,
    /// Length in bytes (0 for a point).
    pub len: usize,
}

impl Span {
    pub(crate) fn end(self) -> usize {
        self.offset + self.len
    }
}

/// One YAML node.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// Where the node is used (for an alias, the `*name` token): what errors underline.
    pub span: Span,
    /// Where the node's text is written (for an alias, the anchored value).
    pub defined: Span,
    /// The value.
    pub value: Value,
}

/// The value of a node.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// What kind of value this is, for "expected X, found Y" messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }

    /// A scalar as YAML users expect it in a string field: strings as they are, numbers and
    /// booleans as written in the file (`1.10` stays `1.10`). `None` for null, lists, maps.
    pub(crate) fn scalar_text(&self, source: &str) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                let text = source.get(self.defined.offset..self.defined.end())?;
                Some(text.trim().to_owned())
            }
            _ => None,
        }
    }
}

/// The span of the value at `keys` (map keys from the root), or of the deepest key found.
pub(crate) fn locate(root: &Node, source: &str, keys: &[&str]) -> Span {
    let mut node = root;
    let mut found = Span::default();
    for (i, key) in keys.iter().enumerate() {
        let Value::Map(entries) = &node.value else {
            break;
        };
        let Some((k, v)) = entries
            .iter()
            .find(|(k, _)| k.scalar_text(source).as_deref() == Some(*key))
        else {
            break;
        };
        found = k.span;
        node = v;
        if i + 1 == keys.len() && !matches!(v.value, Value::Null) {
            found = v.span;
        }
    }
    found
}

/// A YAML syntax error: the parser's message and where it stopped.
#[derive(Debug)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub span: Span,
}

/// The deepest nesting of lists and maps a pipeline file may have. Real files nest 7 deep
/// (`jobs`, a job, `services`, a service, `variables`…); the parser, [`RawValue`] and the
/// decoder recurse once per level, and at the parser's default of 64 a debug build overflowed
/// a 2 MiB thread stack (a test's, a tokio worker's) and aborted.
pub(crate) const MAX_DEPTH: usize = 24;

/// Parses a YAML document into a spanned tree. An empty document is a `Null` node.
pub(crate) fn parse(source: &str) -> Result<Node, SyntaxError> {
    let mut options = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = MAX_DEPTH;
    options.budget = Some(budget);
    // Duplicates reach our visitor, which reports them with both places.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    // YAML 1.2 booleans only: `on`, `yes`, `y` stay strings (and keys).
    options.strict_booleans = true;
    options.non_finite_float_policy = serde_saphyr::NonFiniteFloatPolicy::AsString;
    options.with_snippet = false;
    let lines = LineIndex::new(source);
    match serde_saphyr::from_str_with_options::<Spanned<RawValue>>(source, options) {
        Ok(raw) => Ok(convert(raw, source, &lines)),
        Err(err) => {
            let span = err
                .location()
                .map(|loc| lines.span(source, loc))
                .unwrap_or_default();
            // Underline at least the character where the parser stopped.
            let span = match source[span.offset..].chars().next() {
                Some(c) if span.len == 0 && c != '\n' && c != '\r' => Span {
                    len: c.len_utf8(),
                    ..span
                },
                _ => span,
            };
            Err(SyntaxError {
                message: syntax_message(&err),
                span,
            })
        }
    }
}

/// The parser's message without the " at line N, column M" it appends (we print our own).
fn syntax_message(err: &serde_saphyr::Error) -> String {
    let text = err.without_snippet().to_string();
    let text = match text.rfind(" at line ") {
        Some(at) if text[at..].contains(", column ") => text[..at].to_owned(),
        _ => text,
    };
    // Some messages speak to the crate's programmers; say it to the file's author.
    if text.starts_with("multiple YAML documents") {
        return "the file holds several YAML documents (`---`); a pipeline is one document".into();
    }
    if text.starts_with("recursive references") {
        return "an alias refers to the anchor that contains it".into();
    }
    // The parser's limits (serde-saphyr's `Budget`), which it names in Rust syntax.
    if text.starts_with("budget breached: Depth") {
        return format!("lists and maps nested more than {MAX_DEPTH} deep");
    }
    if text.starts_with("budget breached:") {
        return "the file is too large once its aliases (`*name`) and merges (`<<`) are \
                expanded"
            .into();
    }
    text.replace(", set DuplicateKeyPolicy in Options if acceptable", "")
}

/// What to do about a syntax error.
pub(crate) fn syntax_help(message: &str) -> &'static str {
    if message.contains("tab") {
        "indent with spaces: YAML does not allow tabs for indentation"
    } else if message.contains("unclosed") {
        "close the bracket or quote opened here"
    } else if message.contains("several YAML documents") {
        "remove the `---` separators and merge the documents"
    } else if message.contains("nested more than") {
        "a pipeline nests a few levels deep: check the brackets and the indentation"
    } else if message.contains("alias") || message.contains("anchor") {
        "check the `&anchor` and `*alias` names"
    } else {
        "check the indentation (spaces, not tabs) and the quotes around this place"
    }
}

fn convert(raw: Spanned<RawValue>, source: &str, lines: &LineIndex) -> Node {
    let span = lines.span(source, raw.referenced);
    let defined = lines.span(source, raw.defined);
    let value = match raw.value {
        RawValue::Null => Value::Null,
        RawValue::Bool(b) => Value::Bool(b),
        RawValue::Int(i) => Value::Int(i),
        RawValue::Float(f) => Value::Float(f),
        RawValue::Str(s) => Value::Str(s),
        RawValue::Seq(items) => Value::Seq(
            items
                .into_iter()
                .map(|n| convert(n, source, lines))
                .collect(),
        ),
        RawValue::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (convert(k, source, lines), convert(v, source, lines)))
                .collect(),
        ),
    };
    let defined = trim_span(source, defined, &value);
    // A scalar reached through an alias or a merge is underlined where it is written: that
    // is the text to fix. Lists and maps keep the place they are used.
    let span = match value {
        Value::Seq(_) | Value::Map(_) => trim_span(source, span, &value),
        _ => defined,
    };
    Node {
        span,
        defined,
        value,
    }
}

/// Block scalars end with the line break and indentation after them; lists and maps only
/// know where they start. Make both underline something sensible.
fn trim_span(source: &str, span: Span, value: &Value) -> Span {
    let Some(text) = source.get(span.offset..span.end()) else {
        return span;
    };
    match value {
        Value::Seq(_) | Value::Map(_) if span.len == 0 => {
            // Underline the first character (the `[`, `{`, `-` or first key).
            let len = source[span.offset..]
                .chars()
                .next()
                .filter(|c| *c != '\n')
                .map_or(0, char::len_utf8);
            Span { len, ..span }
        }
        _ => Span {
            len: text.trim_end().len(),
            ..span
        },
    }
}

/// Line starts of the source, to turn serde-saphyr's 1-based line/column (in characters)
/// into byte offsets (its own byte offsets are missing for some errors).
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(source: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { starts }
    }

    fn span(&self, source: &str, loc: Location) -> Span {
        if loc == Location::UNKNOWN || loc.line() == 0 {
            return Span::default();
        }
        let line = (loc.line() as usize - 1).min(self.starts.len() - 1);
        let start = advance(
            source,
            self.starts[line],
            loc.column().saturating_sub(1) as usize,
        );
        let end = advance(source, start, loc.span().len() as usize);
        Span {
            offset: start,
            len: end - start,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub(crate) fn line_column(&self, source: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(source.len());
        let line = self.starts.partition_point(|&s| s <= offset) - 1;
        let column = source[self.starts[line]..]
            .char_indices()
            .take_while(|(i, _)| self.starts[line] + i < offset)
            .count();
        (line + 1, column + 1)
    }
}

/// The byte offset `chars` characters after `from`, clamped to the end of the source.
fn advance(source: &str, from: usize, chars: usize) -> usize {
    let from = from.min(source.len());
    source[from..]
        .char_indices()
        .nth(chars)
        .map_or(source.len(), |(i, _)| from + i)
}

/// What serde-saphyr fills: any YAML value, children spanned.
enum RawValue {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<RawValue>>),
    Map(Vec<(Spanned<RawValue>, Spanned<RawValue>)>),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<RawValue, E> {
        Ok(RawValue::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<RawValue, E> {
        Ok(RawValue::Int(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<RawValue, E> {
        Ok(RawValue::Int(v.into()))
    }
    fn visit_i128<E>(self, v: i128) -> Result<RawValue, E> {
        Ok(RawValue::Int(v))
    }
    fn visit_u128<E>(self, v: u128) -> Result<RawValue, E> {
        Ok(i128::try_from(v).map_or(RawValue::Float(v as f64), RawValue::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<RawValue, E> {
        Ok(RawValue::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<RawValue, E> {
        Ok(RawValue::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<RawValue, E> {
        Ok(RawValue::Str(v))
    }
    fn visit_bytes<E>(self, v: &[u8]) -> Result<RawValue, E> {
        Ok(RawValue::Str(String::from_utf8_lossy(v).into_owned()))
    }
    fn visit_unit<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_none<E>(self) -> Result<RawValue, E> {
        Ok(RawValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        RawValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<RawValue>>()? {
            items.push(item);
        }
        Ok(RawValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawValue, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<RawValue>>()? {
            let value = map.next_value::<Spanned<RawValue>>()?;
            entries.push((key, value));
        }
        Ok(RawValue::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(source: &str, span: Span) -> &str {
        &source[span.offset..span.end()]
    }

    #[test]
    fn spans_point_at_the_written_text() {
        let src = "a: 1.10\nb:\n  - x\n  - \"ü\"\nc: |\n  block\n";
        let root = parse(src).unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("not a map")
        };
        assert_eq!(text(src, entries[0].0.span), "a");
        assert_eq!(entries[0].1.scalar_text(src).unwrap(), "1.10");
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a list")
        };
        assert_eq!(text(src, items[1].span), "\"ü\"");
        assert_eq!(text(src, entries[2].1.span), "block");
        let lines = LineIndex::new(src);
        assert_eq!(lines.line_column(src, items[1].span.offset), (4, 5));
    }

    #[test]
    fn yes_and_on_stay_strings() {
        let root = parse("on: yes\n").unwrap();
        let Value::Map(entries) = &root.value else {
            panic!("not a map")
        };
        assert!(matches!(&entries[0].0.value, Value::Str(s) if s == "on"));
        assert!(matches!(&entries[0].1.value, Value::Str(s) if s == "yes"));
    }

    #[test]
    fn syntax_errors_have_a_place_and_a_plain_message() {
        let err = parse("a: [1, 2\n").unwrap_err();
        assert_eq!(err.message, "unclosed bracket '['");
        assert_eq!(err.span.offset, 3);
    }
}
