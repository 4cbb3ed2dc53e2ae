//! Merged reports of batches and retries: whole, flaky marked, readable again.

use std::path::Path;

use railyard_split::{IdFormat, Outcome, junit, merge_attempts, write_junit};

use crate::common::{lines, report};

#[test]
fn retry_that_passes_is_flaky_and_the_merged_report_reads_back() {
    let first = report("pytest-junit.xml").cases;
    // The retry reran only the failing ids, and test_fails passed this time.
    let retry: Vec<_> = first
        .iter()
        .filter(|c| c.outcome == Outcome::Failed)
        .map(|c| {
            let mut c = c.clone();
            if c.name == "test_fails" {
                c.outcome = Outcome::Passed;
                c.message = None;
            }
            c
        })
        .collect();
    let merged = merge_attempts(&[first.clone(), retry]);
    assert_eq!(merged.len(), first.len());
    let fails = merged.iter().find(|c| c.name == "test_fails").unwrap();
    assert_eq!((fails.outcome, fails.flaky), (Outcome::Passed, true));
    let error = merged.iter().find(|c| c.name == "test_error").unwrap();
    assert_eq!((error.outcome, error.flaky), (Outcome::Failed, false));

    let xml = write_junit("railyard", &merged).unwrap();
    assert!(xml.contains("<flakyFailure"), "{xml}");
    let back = junit::parse(Path::new("merged.xml"), xml.as_bytes()).unwrap();
    assert_eq!(back.len(), merged.len());
    for (a, b) in merged.iter().zip(&back) {
        assert_eq!(
            (&a.name, &a.classname, a.outcome, a.flaky),
            (&b.name, &b.classname, b.outcome, b.flaky)
        );
        assert_eq!(
            a.time.map(|t| (t * 1000.0).round()),
            b.time.map(|t| (t * 1000.0).round())
        );
    }
    let listed = lines("pytest-list.txt");
    let m = IdFormat::for_tool("pytest")
        .unwrap()
        .match_cases(&listed, &back);
    assert_eq!(m.failed, ["tests/test_a.py::test_error"]);
    assert_eq!(m.flaky, ["tests/test_a.py::test_fails"]);
}

#[test]
fn batches_of_different_tools_keep_suites_and_files() {
    let a = report("jest-junit.xml").cases;
    let b = report("go-junit-report.xml").cases;
    let merged = merge_attempts(&[a.clone(), b.clone()]);
    assert_eq!(merged.len(), a.len() + b.len());
    let xml = write_junit("job test", &merged).unwrap();
    let back = junit::parse_report(Path::new("m.xml"), xml.as_bytes()).unwrap();
    assert_eq!(back.root_name.as_deref(), Some("job test"));
    let file_of = |name: &str| {
        back.cases
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .file
            .clone()
    };
    assert_eq!(
        file_of("cart adds an item").as_deref(),
        Some("/work/app/src/cart.test.js")
    );
    let suite_of = |name: &str| {
        back.cases
            .iter()
            .find(|c| c.name == name)
            .unwrap()
            .suite
            .clone()
    };
    assert_eq!(
        suite_of("TestReserve").as_deref(),
        Some("example.com/shop/stock")
    );
}
