//! How an error is shown: its own message says what failed, each cause below it says why,
//! and no cause is said twice. Error types keep their cause in `source()` and out of their
//! message (as nextest does); whoever shows the error walks the chain once, here.

use std::error::Error;
use std::fmt;

/// The messages of an error's causes, outermost first, leaving out each one whose text an
/// outer message already holds (some libraries repeat their cause in their own message).
pub fn causes(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut said = err.to_string();
    let mut causes = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !text.is_empty() && !said.contains(&text) {
            said.push('\n');
            said.push_str(&text);
            causes.push(text);
        }
        source = cause.source();
    }
    causes
}

/// An error and its causes on one line, `what failed: why: why`, for a log line, a job's
/// error text or an API body, where there is no room for a `caused by:` list.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        for cause in causes(self.0) {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

/// [`Chain`] as a `String`.
pub fn chain(err: &(dyn Error + 'static)) -> String {
    Chain(err).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);

    impl fmt::Display for E {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    fn nested(messages: &[&'static str]) -> E {
        let mut err = None;
        for m in messages.iter().rev() {
            err = Some(E(m, err.map(Box::new)));
        }
        err.unwrap()
    }

    #[test]
    fn every_cause_is_said_once_outermost_first() {
        let err = nested(&["cannot open db", "connect failed", "refused"]);
        assert_eq!(causes(&err), ["connect failed", "refused"]);
        assert_eq!(chain(&err), "cannot open db: connect failed: refused");
    }

    #[test]
    fn a_cause_an_outer_message_already_holds_is_left_out() {
        let err = nested(&[
            "request failed: refused (os error 111)",
            "refused (os error 111)",
        ]);
        assert!(causes(&err).is_empty());
        assert_eq!(chain(&err), "request failed: refused (os error 111)");
        let err = nested(&["a", "b: c", "c", "d"]);
        assert_eq!(chain(&err), "a: b: c: d");
    }

    #[test]
    fn an_error_without_cause_is_its_message() {
        assert_eq!(chain(&nested(&["alone"])), "alone");
    }
}
