//! Checks of the two small languages inside `tests`: file globs (`files`) and test id
//! templates (`format`). Pure functions, so the parser can say what is wrong and where
//! before any shard starts; the runner and the split crate interpret them.

use crate::errors::suggest;
use railyard_types::template::{Token, tokens};

/// Aliases of [`crate::TEST_TOOLS`] that the split crate accepts too.
pub(crate) const TOOL_ALIASES: &[&str] = &[
    "cargo-nextest",
    "jest-junit",
    "maven",
    "failsafe",
    "gotestsum",
    "go-junit-report",
];
/// The fields of a JUnit test case a template can use.
pub(crate) const FIELDS: &[&str] = &["name", "classname", "file", "suite"];

/// What is wrong with a glob's brackets, if anything.
pub(crate) fn glob_problem(glob: &str) -> Option<&'static str> {
    let mut chars = glob.chars();
    let mut braces = 0usize;
    while let Some(c) = chars.next() {
        match c {
            // The guard skips the escaped character; only a `\` at the end stops here.
            '\\' if chars.next().is_none() => {
                return Some("it ends with a `\\` that escapes nothing");
            }
            '[' => {
                // `]` right after `[` (or `[!`) is a literal member.
                let rest: String = chars.clone().collect();
                let skip = usize::from(rest.starts_with('!') || rest.starts_with('^'));
                let body = &rest[skip..];
                let close = body.chars().skip(1).position(|c| c == ']');
                let Some(close) = close else {
                    return Some("a `[` is not closed by `]`");
                };
                let members: Vec<char> = body.chars().take(close + 1).collect();
                if backwards_range(&members) {
                    return Some("a range in `[…]` goes backwards (write `[a-z]`, not `[z-a]`)");
                }
                for _ in 0..skip + 1 + close + 1 {
                    chars.next();
                }
            }
            '{' => braces += 1,
            '}' if braces == 0 => return Some("a `}` has no `{` before it"),
            '}' => braces -= 1,
            _ => {}
        }
    }
    (braces > 0).then_some("a `{` is not closed by `}`")
}

/// Whether the members of a `[…]` class hold a range `x-y` with `x` after `y`. A `-`
/// first or last is a literal member.
fn backwards_range(members: &[char]) -> bool {
    let mut i = 0;
    while i < members.len() {
        if i + 2 < members.len() && members[i + 1] == '-' {
            if members[i] > members[i + 2] {
                return true;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    false
}

/// What is wrong with a test id template (the split crate's rules: fields `{name}`,
/// `{classname}`, `{file}`, `{suite}`; `{{` and `}}` for braces; at least one field), with
/// a field it may have meant.
pub(crate) fn template_problem(template: &str) -> Option<(String, Option<String>)> {
    let mut fields = 0;
    for token in tokens(template) {
        match token {
            Token::Text(_) => {}
            Token::StrayOpen => return Some(("the template has a `{` without `}`".into(), None)),
            Token::StrayClose => {
                return Some(("the template has a `}` without `{`".into(), None));
            }
            Token::Field(field) if FIELDS.contains(&field) => fields += 1,
            Token::Field(field) => {
                // `{class}` for `{classname}` is a cut-off more than a typo.
                let suggestion = FIELDS
                    .iter()
                    .find(|f| !field.is_empty() && f.starts_with(field))
                    .map(|f| f.to_string())
                    .or_else(|| suggest(field, FIELDS.iter().copied()));
                return Some((format!("unknown field `{{{field}}}`"), suggestion));
            }
        }
    }
    (fields == 0).then(|| ("the template names no field".into(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for ok in [
            "tests/**/*_test.py",
            "t/[!_]*.go",
            "t/[]]x",
            "{unit,e2e}/*.rs",
            "a\\[b",
        ] {
            assert_eq!(glob_problem(ok), None, "{ok}");
        }
        assert_eq!(glob_problem("t/[ab"), Some("a `[` is not closed by `]`"));
        assert_eq!(glob_problem("{a,b"), Some("a `{` is not closed by `}`"));
        assert_eq!(glob_problem("a}"), Some("a `}` has no `{` before it"));
        assert_eq!(glob_problem("{a,{b,c}}"), None);
        assert_eq!(glob_problem("[a-z0-9-]"), None);
        assert_eq!(
            glob_problem("t/[z-a].py"),
            Some("a range in `[…]` goes backwards (write `[a-z]`, not `[z-a]`)")
        );
        assert_eq!(
            glob_problem("a\\"),
            Some("it ends with a `\\` that escapes nothing")
        );
    }

    #[test]
    fn templates() {
        for ok in ["{classname}::{name}", "{file}", "{{{suite}}} {name}"] {
            assert_eq!(template_problem(ok), None, "{ok}");
        }
        assert_eq!(
            template_problem("{class}.{name}"),
            Some(("unknown field `{class}`".into(), Some("classname".into())))
        );
        assert_eq!(
            template_problem("{nmae}"),
            Some(("unknown field `{nmae}`".into(), Some("name".into())))
        );
        assert_eq!(
            template_problem("{{literal}}"),
            Some(("the template names no field".into(), None))
        );
        assert_eq!(
            template_problem("x}"),
            Some(("the template has a `}` without `{`".into(), None))
        );
    }
}
