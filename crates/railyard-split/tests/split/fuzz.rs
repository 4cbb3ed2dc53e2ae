//! Property tests of the JUnit reader on reports a job wrote (job output is untrusted):
//! random bytes, and reports generated from the elements and attributes real tools write,
//! nested, escaped, with doctypes, entities and CDATA, cut short at random. A report is cases
//! no larger than it, or an error naming a line of the file; never a panic. And the bombs:
//! entities that would expand a billion times, nesting a million deep, huge attributes.
//!
//! `RAILYARD_FUZZ_CASES` sets the cases per property (default 128; see docs/security.md).

use proptest::prelude::*;
use railyard_split::{JunitError, Outcome, junit, write_junit};
use std::path::Path;
use std::time::{Duration, Instant};

/// Parses `bytes`: the cases hold nothing the report did not, an error names a line of it.
fn check(bytes: &[u8]) -> Option<Vec<junit::TestCase>> {
    let path = Path::new("r.xml");
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    match junit::parse_report(path, bytes) {
        Ok(report) => {
            let tags = bytes.windows(9).filter(|w| w == b"<testcase").count()
                + bytes.windows(3).filter(|w| w == b":te").count();
            assert!(report.cases.len() <= tags.max(1));
            for case in &report.cases {
                assert!(!case.name.is_empty());
                assert!(case.name.len() <= bytes.len());
                if let Some(m) = &case.message {
                    assert!(m.chars().count() <= 501, "{m}");
                }
                assert!(case.time.is_none_or(|t| t.is_finite() && t >= 0.0));
            }
            Some(report.cases)
        }
        Err(JunitError::Malformed { line, .. }) => {
            let line = line.unwrap();
            assert!((1..=lines).contains(&line), "line {line} of {lines}");
            None
        }
        Err(JunitError::Truncated { line, .. }) => {
            assert!((1..=lines).contains(&line), "line {line} of {lines}");
            None
        }
        Err(JunitError::NotJunit { .. }) => None,
        Err(e) => panic!("unexpected error {e}"),
    }
}

const ELEMENTS: &[&str] = &[
    "testsuites",
    "testsuite",
    "testcase",
    "failure",
    "error",
    "skipped",
    "properties",
    "property",
    "system-out",
    "system-err",
    "rerunFailure",
    "flakyFailure",
    "flakyError",
    "x:testcase",
    "other",
];
const ATTRIBUTES: &[&str] = &[
    "name",
    "classname",
    "file",
    "time",
    "message",
    "type",
    "value",
];
const VALUES: &[&str] = &[
    "",
    "a",
    "t::x",
    "1.5",
    "1,234.5",
    "0,5",
    "-1",
    "NaN",
    "inf",
    "1e400",
    "&amp;",
    "&lt;x&gt;",
    "&#x1F389;",
    "&#0;",
    "&#xD800;",
    "&lol;",
    "&",
    "a\nb",
    "\"",
    "é🎉",
    "&#10;",
];
const TEXTS: &[&str] = &[
    "",
    "boom",
    "line 1\nline 2",
    "&lol;",
    "&amp;",
    "<![CDATA[x <y> ]]>",
    "<!-- c -->",
    "<?pi x?>",
    "&#65;",
    "]]>",
    "\u{0}",
    "<",
    ">",
];

/// One element and what is inside it, as text.
fn element() -> impl Strategy<Value = String> {
    let leaf = (
        prop::sample::select(ELEMENTS),
        prop::collection::vec(
            (
                prop::sample::select(ATTRIBUTES),
                prop::sample::select(VALUES),
            ),
            0..4,
        ),
        prop::sample::select(TEXTS),
        any::<bool>(),
    )
        .prop_map(|(name, attrs, text, empty)| {
            let attrs: String = attrs.iter().map(|(k, v)| format!(" {k}=\"{v}\"")).collect();
            if empty {
                format!("<{name}{attrs}/>")
            } else {
                format!("<{name}{attrs}>{text}</{name}>")
            }
        });
    leaf.prop_recursive(6, 64, 6, |inner| {
        (
            prop::sample::select(ELEMENTS),
            prop::collection::vec(
                (
                    prop::sample::select(ATTRIBUTES),
                    prop::sample::select(VALUES),
                ),
                0..4,
            ),
            prop::collection::vec(inner, 0..6),
            prop::sample::select(TEXTS),
        )
            .prop_map(|(name, attrs, children, text)| {
                let attrs: String = attrs.iter().map(|(k, v)| format!(" {k}=\"{v}\"")).collect();
                format!("<{name}{attrs}>{text}{}</{name}>", children.join("\n"))
            })
    })
}

const PROLOGS: &[&str] = &[
    "",
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
    "<?xml version=\"1.1\"?>",
    "\u{feff}",
    "<!DOCTYPE x [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\n",
    "<!DOCTYPE x SYSTEM \"file:///etc/passwd\">",
    "<!-- a -->\n",
];

proptest! {
    #![proptest_config(railyard_test_support::fuzz_config())]

    #[test]
    fn random_bytes_are_cases_or_errors(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        check(&bytes);
    }

    #[test]
    fn random_text_after_a_root_is_cases_or_errors(text in "\\PC{0,600}") {
        check(format!("<testsuites>{text}").as_bytes());
    }

    #[test]
    fn generated_reports_are_cases_or_errors(
        prolog in prop::sample::select(PROLOGS),
        body in element(),
        cut in any::<prop::sample::Index>(),
        whole in any::<bool>(),
    ) {
        let report = format!("{prolog}{body}");
        let bytes = report.as_bytes();
        let bytes = if whole { bytes } else { &bytes[..cut.index(bytes.len() + 1)] };
        check(bytes);
    }

    /// What the merge writes reads back as the same cases.
    #[test]
    fn written_reports_read_back(body in element()) {
        let source = format!("<testsuites>{body}</testsuites>");
        let Some(cases) = check(source.as_bytes()) else { return Ok(()) };
        let written = write_junit("fuzz", &cases).unwrap();
        let again = check(written.as_bytes()).expect("a written report parses");
        prop_assert_eq!(again.len(), cases.len());
        for (a, b) in again.iter().zip(&cases) {
            // Line breaks and tabs in a name are written as spaces (see `attribute`).
            prop_assert_eq!(&a.name, &railyard_split::attribute(&b.name));
            prop_assert_eq!(a.outcome, b.outcome);
        }
    }
}

const QUICK: Duration = Duration::from_secs(20);

fn quick<T>(f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    assert!(started.elapsed() < QUICK, "took {:?}", started.elapsed());
    out
}

/// Internal entities are never expanded: `&lol9;` is a billion `lol`s to a parser that does.
#[test]
fn a_billion_laughs_is_not_expanded() {
    let mut doctype = String::from("<!DOCTYPE testsuites [\n<!ENTITY lol0 \"lol\">\n");
    for i in 1..10 {
        let refs = format!("&lol{};", i - 1).repeat(10);
        doctype.push_str(&format!("<!ENTITY lol{i} \"{refs}\">\n"));
    }
    doctype.push_str("]>\n");
    let case = "<testcase name=\"t\"><failure>&lol9;</failure></testcase>";
    let in_text = format!("{doctype}<testsuites>{case}</testsuites>");
    let cases = quick(|| check(in_text.as_bytes())).unwrap();
    assert_eq!(cases[0].outcome, Outcome::Failed);
    assert!(cases[0].message.is_none(), "{:?}", cases[0].message);
    let in_attribute = format!("{doctype}<testsuites><testcase name=\"&lol9;\"/></testsuites>");
    let parsed = quick(|| check(in_attribute.as_bytes()));
    assert!(parsed.is_none_or(|c| c.iter().all(|c| c.name.len() < 100)));
}

/// The reproduction: a report of 200,000 nested elements took time quadratic in its size
/// (each element counted the lines from the start of the file; minutes, not milliseconds).
#[test]
fn a_report_nested_200000_deep_is_read_in_linear_time() {
    let depth = 200_000;
    let source = format!(
        "<testsuites>\n{}<testcase name=\"deep\"/>\n{}</testsuites>\n",
        "<testsuite>\n".repeat(depth),
        "</testsuite>\n".repeat(depth)
    );
    let cases = quick(|| check(source.as_bytes())).unwrap();
    assert_eq!(cases[0].name, "deep");
    // Cut short, the innermost open element is named with its line.
    let cut = &source[.."<testsuites>\n".len() + "<testsuite>\n".len() * depth];
    let e = quick(|| junit::parse_report(Path::new("r.xml"), cut.as_bytes())).unwrap_err();
    match e {
        JunitError::Truncated { element, line, .. } => {
            assert_eq!((element.as_str(), line), ("testsuite", 200_001));
        }
        e => panic!("{e}"),
    }
}

#[test]
fn many_cases_on_many_lines_are_read_in_linear_time() {
    let cases = 100_000;
    let mut source = String::from("<testsuites>\n<testsuite name=\"s\">\n");
    for i in 0..cases {
        source.push_str(&format!(
            "<testcase name=\"t{i}\" time=\"0.1\">\n</testcase>\n"
        ));
    }
    source.push_str("</testsuite>\n</testsuites>\n");
    assert_eq!(quick(|| check(source.as_bytes())).unwrap().len(), cases);
}

#[test]
fn a_huge_attribute_and_a_huge_message_are_read_and_cut() {
    let big = "x".repeat(4 << 20);
    let source = format!(
        "<testsuites><testcase name=\"{big}\"><failure>{big}</failure></testcase></testsuites>"
    );
    let cases = quick(|| check(source.as_bytes())).unwrap();
    assert_eq!(cases[0].name.len(), 4 << 20);
    assert_eq!(cases[0].message.as_ref().unwrap().chars().count(), 501);
}

/// Found by `written_reports_read_back`: a name with a line break (`&#10;`) was written raw
/// and read back as a space.
#[test]
fn a_name_with_a_line_break_reads_back_as_written() {
    let source = "<testsuites><x:testcase name=\"&#10;a\"></x:testcase></testsuites>";
    let cases = check(source.as_bytes()).expect("it parses");
    let written = write_junit("fuzz", &cases).unwrap();
    let again = check(written.as_bytes()).expect("a written report parses");
    assert_eq!(again[0].name, railyard_split::attribute(&cases[0].name));
}
