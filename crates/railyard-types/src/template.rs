//! `{field}` templates, read one way everywhere: a test id format (`{classname}::{name}`, in
//! the split crate and checked by the pipeline's validation) and a batch's `run` command
//! (`pytest {tests}`, expanded by the split crate and shown by the runner). `{{` and `}}` stand
//! for a brace; `{` up to the next `}` (with no `{` between) names a field. What each field
//! means, and whether a stray brace is an error, is the caller's: a `run` command is shell,
//! where `${VAR}` and `awk '{print}'` must pass as written.

/// One piece of a template, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// Text as written; `{{` and `}}` come as a lone brace.
    Text(&'a str),
    /// `{name}`: the text between the braces.
    Field(&'a str),
    /// A `{` with no `}` after it before the next `{` or the end.
    StrayOpen,
    /// A `}` that closes nothing.
    StrayClose,
}

impl Token<'_> {
    /// How the token was written, for a caller that keeps what it does not expand.
    pub fn written(&self) -> String {
        match self {
            Token::Text(t) => t.replace('{', "{{").replace('}', "}}"),
            Token::Field(f) => format!("{{{f}}}"),
            Token::StrayOpen => "{".into(),
            Token::StrayClose => "}".into(),
        }
    }
}

/// The tokens of `template`.
pub fn tokens(template: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        if i > 0 {
            out.push(Token::Text(&rest[..i]));
        }
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push(Token::Text(&tail[..1]));
            rest = &tail[2..];
        } else if let Some(after) = tail.strip_prefix('}') {
            out.push(Token::StrayClose);
            rest = after;
        } else {
            match tail[1..].find(['{', '}']) {
                Some(j) if tail[1 + j..].starts_with('}') => {
                    out.push(Token::Field(&tail[1..1 + j]));
                    rest = &tail[2 + j..];
                }
                _ => {
                    out.push(Token::StrayOpen);
                    rest = &tail[1..];
                }
            }
        }
    }
    if !rest.is_empty() {
        out.push(Token::Text(rest));
    }
    out
}

/// `template` with each field `value` knows replaced by its value; everything else (a field
/// it does not know, a stray brace) is kept as written, `{{` and `}}` becoming braces.
pub fn expand(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    for token in tokens(template) {
        match token {
            Token::Text(t) => out.push_str(t),
            Token::Field(f) => match value(f) {
                Some(v) => out.push_str(&v),
                None => out.push_str(&token.written()),
            },
            Token::StrayOpen => out.push('{'),
            Token::StrayClose => out.push('}'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Token::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fields_text_and_escaped_braces() {
        assert_eq!(
            tokens("{classname}::{name}"),
            [Field("classname"), Text("::"), Field("name")]
        );
        assert_eq!(
            tokens("{{{suite}}} x"),
            [Text("{"), Field("suite"), Text("}"), Text(" x")]
        );
        assert_eq!(
            tokens("{{literal}}"),
            [Text("{"), Text("literal"), Text("}")]
        );
        assert_eq!(tokens(""), []);
    }

    #[test]
    fn stray_braces_are_marked() {
        assert_eq!(tokens("x}"), [Text("x"), StrayClose]);
        assert_eq!(tokens("{tests"), [StrayOpen, Text("tests")]);
        assert_eq!(tokens("{x{tests}"), [StrayOpen, Text("x"), Field("tests")]);
    }

    #[test]
    fn expanding_keeps_what_it_does_not_know() {
        let tests = |f: &str| (f == "tests").then(|| "a 'b c'".to_string());
        assert_eq!(expand("pytest {tests}", tests), "pytest a 'b c'");
        assert_eq!(
            expand("echo ${HOME} {{tests}} awk '{print $1}' {tests", tests),
            "echo ${HOME} {tests} awk '{print $1}' {tests"
        );
        assert_eq!(expand("{x{tests}", tests), "{xa 'b c'");
    }

    proptest! {
        #![proptest_config(railyard_test_support::fuzz_config())]

        /// Writing the tokens back gives the template, and a field never holds a brace.
        #[test]
        fn tokens_write_back_to_the_template(template in "[a-z{} $]{0,24}") {
            let tokens = tokens(&template);
            let written: String = tokens.iter().map(Token::written).collect();
            prop_assert_eq!(&written, &template);
            for token in tokens {
                if let Token::Field(f) = token {
                    prop_assert!(!f.contains(['{', '}']), "{:?}", f);
                }
            }
        }
    }
}
