//! Parsing real reports: outcomes, times, files, messages, and refusing damaged ones.

use std::path::Path;

use railyard_split::{JunitError, Outcome, TestCase, junit};

use crate::common::{fixture, report};

fn case<'a>(cases: &'a [TestCase], name: &str) -> &'a TestCase {
    cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

#[test]
fn nextest_report_with_retries() {
    let r = report("nextest-junit.xml");
    assert_eq!(r.root_name.as_deref(), Some("nextest-run"));
    let names: Vec<&str> = r.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "tests::adds",
            "tests::always_fails",
            "tests::fails_with_markup",
            "tests::flaky_once",
            "tests::slow_one",
            "nested::works",
            "top_level"
        ]
    );
    let c = &r.cases;
    assert_eq!(case(c, "tests::adds").outcome, Outcome::Passed);
    assert_eq!(case(c, "tests::adds").classname.as_deref(), Some("nx-demo"));
    assert_eq!(
        case(c, "top_level").suite.as_deref(),
        Some("nx-demo::integration")
    );
    let failed = case(c, "tests::always_fails");
    assert_eq!(failed.outcome, Outcome::Failed);
    assert!(!failed.flaky);
    assert!(
        failed
            .message
            .as_deref()
            .unwrap()
            .starts_with("thread 'tests::always_fails'"),
        "entities in the message are decoded: {:?}",
        failed.message
    );
    let flaky = case(c, "tests::flaky_once");
    assert_eq!((flaky.outcome, flaky.flaky), (Outcome::Passed, true));
    let slow = case(c, "tests::slow_one").time.unwrap();
    assert!((0.12..1.0).contains(&slow), "slow_one took {slow}");
}

#[test]
fn pytest_xunit2_and_xunit1() {
    let r = report("pytest-junit.xml");
    assert_eq!(r.cases.len(), 9);
    let c = &r.cases;
    assert_eq!(
        case(c, "test_in_class").classname.as_deref(),
        Some("tests.test_a.TestGroup")
    );
    assert!(case(c, "test_in_class").time.unwrap() >= 0.05);
    assert_eq!(case(c, "test_fails").outcome, Outcome::Failed);
    assert_eq!(
        case(c, "test_fails").message.as_deref(),
        Some("AssertionError: assert 'a < b & c' == 'x'")
    );
    assert_eq!(
        case(c, "test_error").outcome,
        Outcome::Failed,
        "an <error> fails the case"
    );
    assert_eq!(case(c, "test_skipped").outcome, Outcome::Skipped);
    assert_eq!(
        case(c, "test_skipped").message.as_deref(),
        Some("not today")
    );
    assert_eq!(
        case(c, "test_param[a b]").file,
        None,
        "xunit2 has no file attribute"
    );

    let r1 = report("pytest-xunit1-junit.xml");
    assert_eq!(
        case(&r1.cases, "test_other").file.as_deref(),
        Some("tests/sub/test_b.py")
    );
}

#[test]
fn jest_junit_with_file_attributes() {
    let r = report("jest-junit.xml");
    let c = &r.cases;
    assert_eq!(c.len(), 5);
    let failed = case(c, "cart totals › with tax applies the rate");
    assert_eq!(failed.outcome, Outcome::Failed);
    assert_eq!(
        failed.message.as_deref(),
        Some("Error: expect(received).toBe(expected) // Object.is equality"),
        "no message attribute: the first line of the text"
    );
    assert_eq!(failed.time, Some(1.7));
    let escaped = &c[4];
    assert_eq!(escaped.name, "api client retries <503> & gives up");
    assert_eq!(
        escaped.file.as_deref(),
        Some("/work/app/src/api/client.test.ts")
    );
    assert_eq!(case(c, "cart coupons").outcome, Outcome::Skipped);
}

#[test]
fn surefire_bare_testsuite_root() {
    let r = report("TEST-com.example.shop.CartTest.xml");
    assert!(!r.root_is_suites);
    assert!(r.property_names.contains("java.version"));
    let c = &r.cases;
    assert_eq!(c.len(), 5);
    assert!(
        c.iter()
            .all(|x| x.suite.as_deref() == Some("com.example.shop.CartTest"))
    );
    assert_eq!(case(c, "checksStock").outcome, Outcome::Failed);
    assert_eq!(
        case(c, "checksStock").message.as_deref(),
        Some("Connection refused")
    );
    assert_eq!(
        (
            case(c, "appliesCoupon").outcome,
            case(c, "appliesCoupon").flaky
        ),
        (Outcome::Passed, true)
    );
    assert_eq!(case(c, "exportsPdf").time, None, "no time attribute");
    assert_eq!(case(c, "exportsPdf").outcome, Outcome::Skipped);
}

#[test]
fn go_junit_report_with_subtests_and_cdata() {
    let r = report("go-junit-report.xml");
    let c = &r.cases;
    assert_eq!(c.len(), 5);
    assert_eq!(
        case(c, "TestTotal/with_tax").classname.as_deref(),
        Some("example.com/shop/cart")
    );
    assert_eq!(case(c, "TestTotal").message.as_deref(), Some("Failed"));
    assert_eq!(case(c, "TestRelease").time, None, "empty time");
    assert_eq!(case(c, "TestRelease").outcome, Outcome::Skipped);
}

#[test]
fn nested_suites_files_and_odd_times() {
    let r = report("nested-suites.xml");
    let c = &r.cases;
    assert_eq!(case(c, "deep one").suite.as_deref(), Some("root.inner"));
    assert_eq!(
        case(c, "deep one").file.as_deref(),
        Some("spec/outer_spec.rb"),
        "file inherited from the outer suite"
    );
    assert_eq!(
        case(c, "deep two").file.as_deref(),
        Some("spec/inner_spec.rb"),
        "the case's own file wins"
    );
    assert_eq!(
        case(c, "deep one").time,
        Some(1234.5),
        "thousands separator"
    );
    assert_eq!(case(c, "deep two").time, Some(0.25), "decimal comma");
    assert_eq!(case(c, "shallow").time, Some(0.5));
    assert_eq!(
        case(c, "shallow").suite.as_deref(),
        Some("root"),
        "back in the outer suite"
    );
    assert_eq!(case(c, "no time").time, None);
    assert_eq!(case(c, "bad time").time, None);
}

#[test]
fn truncated_reports_are_refused_naming_file_and_line() {
    let bytes = fixture("nextest-junit.xml");
    let path = Path::new("target/nextest/ci/junit.xml");
    // Every cut point in the document: never a panic, never a silently partial report.
    let step = (bytes.len() / 97).max(1);
    for cut in (1..bytes.len() - 1).step_by(step) {
        let err = junit::parse(path, &bytes[..cut]).expect_err(&format!("cut at {cut} must fail"));
        let text = err.to_string();
        assert!(text.starts_with("target/nextest/ci/junit.xml"), "{text}");
        match err {
            JunitError::Truncated { line, .. } => assert!(line >= 1),
            JunitError::Malformed { line, .. } => assert!(line.is_some()),
            JunitError::NotJunit { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let err = junit::parse(path, &bytes[..bytes.len() - 14]).unwrap_err();
    assert!(
        matches!(&err, JunitError::Truncated { element, line: 2, .. } if element == "testsuites"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("`<testsuites>` opened at line 2 is never closed"),
        "{err}"
    );
}

#[test]
fn malformed_and_foreign_files() {
    let p = Path::new("r.xml");
    let err = junit::parse(
        p,
        b"<testsuites>\n<testsuite name=\"a\">\n<testcase name=\"x\"></testsuite>\n</testsuites>",
    )
    .unwrap_err();
    assert!(
        matches!(err, JunitError::Malformed { line: Some(3), .. }),
        "{err}"
    );
    assert!(
        err.to_string().starts_with("r.xml:3: malformed JUnit XML"),
        "{err}"
    );

    let err = junit::parse(
        p,
        b"<testsuite><testcase name=\"a\" time=\"1\" time=\"2\"/></testsuite>",
    )
    .unwrap_err();
    assert!(
        matches!(err, JunitError::Malformed { .. }),
        "duplicate attribute: {err}"
    );

    let err = junit::parse(p, b"<html><body>502 Bad Gateway</body></html>").unwrap_err();
    assert!(
        err.to_string().contains("the root element is `<html>`"),
        "{err}"
    );
    let err = junit::parse(p, b"  \n").unwrap_err();
    assert!(err.to_string().contains("the file is empty"), "{err}");
    let err = junit::parse(p, b"<?xml version=\"1.0\"?>\n<!-- nothing -->").unwrap_err();
    assert!(err.to_string().contains("no XML element"), "{err}");
    assert_eq!(junit::parse(p, b"<testsuites/>").unwrap(), vec![]);
    assert_eq!(
        junit::parse(
            p,
            b"\xef\xbb\xbf<testsuite name=\"bom\"><testcase name=\"a\"/></testsuite>"
        )
        .unwrap()
        .len(),
        1
    );
}

#[test]
fn damaged_copies_of_every_fixture_never_panic() {
    let names = [
        "nextest-junit.xml",
        "pytest-junit.xml",
        "pytest-xunit1-junit.xml",
        "jest-junit.xml",
        "TEST-com.example.shop.CartTest.xml",
        "go-junit-report.xml",
        "nested-suites.xml",
    ];
    let inserts: [&[u8]; 6] = [b"<", b"&", b"\"", b"]]>", b"</testcase>", b"\xff"];
    let mut outcomes = (0, 0);
    for name in names {
        let bytes = fixture(name);
        let path = Path::new(name);
        let step = (bytes.len() / 40).max(1);
        for at in (0..bytes.len()).step_by(step) {
            let mut deleted = bytes.clone();
            deleted.remove(at);
            for ins in inserts {
                let mut inserted = bytes.clone();
                inserted.splice(at..at, ins.iter().copied());
                for damaged in [&deleted, &inserted] {
                    match junit::parse(path, damaged) {
                        Ok(_) => outcomes.0 += 1,
                        Err(e) => {
                            assert!(e.to_string().starts_with(name), "{e}");
                            outcomes.1 += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(outcomes.1 > 100, "most damage is caught: {outcomes:?}");
}
