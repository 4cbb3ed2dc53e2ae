//! Listed ids against real reports, per tool default, and templates.

use railyard_split::{IdFormat, IdFormatError, Normalize, Timings, Tool, failed_ids, partition};

use crate::common::{lines, report};

fn timing(m: &railyard_split::Matched, id: &str) -> f64 {
    m.timings
        .iter()
        .find(|(i, _)| i == id)
        .unwrap_or_else(|| panic!("no timing for {id}: {:?}", m.timings))
        .1
}

#[test]
fn nextest_oneline_list_matches_every_case() {
    let r = report("nextest-junit.xml");
    let fmt = IdFormat::detect(&r);
    assert_eq!(Tool::detect(&r), Some(Tool::Nextest));
    assert_eq!(fmt, IdFormat::for_tool("nextest").unwrap());
    let listed = lines("nextest-list.txt");
    let m = fmt.match_cases(&listed, &r.cases);
    assert!(m.unmatched_ids.is_empty(), "{:?}", m.unmatched_ids);
    assert_eq!(m.unmatched_cases, 0);
    assert_eq!(m.timings.len(), 7);
    assert!(timing(&m, "nx-demo tests::slow_one") >= 0.12);
    assert_eq!(
        m.failed,
        [
            "nx-demo tests::always_fails",
            "nx-demo tests::fails_with_markup"
        ]
    );
    assert_eq!(m.flaky, ["nx-demo tests::flaky_once"]);
    assert_eq!(failed_ids(&r.cases, &fmt, &listed), m.failed);
}

#[test]
fn pytest_node_ids_match_dotted_classnames() {
    let listed = lines("pytest-list.txt");
    for file in ["pytest-junit.xml", "pytest-xunit1-junit.xml"] {
        let r = report(file);
        assert_eq!(Tool::detect(&r), Some(Tool::Pytest), "{file}");
        let fmt = IdFormat::detect(&r);
        assert_eq!(fmt.normalize(), Normalize::Python);
        let m = fmt.match_cases(&listed, &r.cases);
        assert!(m.unmatched_ids.is_empty(), "{file}: {:?}", m.unmatched_ids);
        assert_eq!(m.unmatched_cases, 0, "{file}");
        assert!(timing(&m, "tests/test_a.py::TestGroup::test_in_class") >= 0.05);
        assert!(
            m.timings
                .iter()
                .any(|(i, _)| i == "tests/test_a.py::TestGroup::test_param[a b]")
        );
        assert!(
            !m.timings
                .iter()
                .any(|(i, _)| i == "tests/test_a.py::test_skipped"),
            "a skipped case's time says nothing about the test"
        );
        assert_eq!(
            m.failed,
            ["tests/test_a.py::test_fails", "tests/test_a.py::test_error"]
        );
    }
}

#[test]
fn python_keys_fold_paths_but_not_parameters() {
    let fmt = IdFormat::for_tool("pytest").unwrap();
    assert_eq!(
        fmt.listed_key("./a/b/test_x.py::C::t[p/q::r]"),
        "a.b.test_x.C.t[p/q::r]"
    );
    assert_eq!(fmt.listed_key("a/test_x.py::t"), "a.test_x.t");
}

#[test]
fn jest_files_sum_their_cases() {
    let r = report("jest-junit.xml");
    assert_eq!(Tool::detect(&r), Some(Tool::Jest));
    let fmt = IdFormat::detect(&r);
    let m = fmt.match_cases(&lines("jest-list.txt"), &r.cases);
    assert!(m.unmatched_ids.is_empty());
    assert!((timing(&m, "/work/app/src/cart.test.js") - (0.004 + 1.7 + 0.151)).abs() < 1e-9);
    assert_eq!(m.failed, ["/work/app/src/cart.test.js"]);
}

#[test]
fn surefire_classes_and_go_top_level_tests() {
    let r = report("TEST-com.example.shop.CartTest.xml");
    assert_eq!(Tool::detect(&r), Some(Tool::Surefire));
    let m = IdFormat::detect(&r).match_cases(&["com.example.shop.CartTest".to_string()], &r.cases);
    assert!((timing(&m, "com.example.shop.CartTest") - 3.362).abs() < 1e-9);

    let r = report("go-junit-report.xml");
    assert_eq!(Tool::detect(&r), Some(Tool::Go));
    let fmt = IdFormat::detect(&r);
    let m = fmt.match_cases(&lines("go-list.txt"), &r.cases);
    assert_eq!(
        timing(&m, "TestTotal"),
        1.2,
        "subtests are not added to their parent"
    );
    assert_eq!(
        m.unmatched_cases, 1,
        "TestTotal/with_tax is not listed by `go test -list`"
    );
    assert!(m.timings.iter().all(|(i, _)| i != "TestRelease"), "skipped");
    assert!(m.unmatched_ids.is_empty());
}

#[test]
fn ids_that_match_nothing_are_reported() {
    let r = report("nextest-junit.xml");
    let fmt = IdFormat::parse("{classname}::{name}").unwrap();
    let m = fmt.match_cases(&lines("nextest-list.txt"), &r.cases);
    assert_eq!(m.unmatched_ids.len(), 7, "wrong template: nothing matches");
    assert_eq!(m.unmatched_cases, 7);
    assert!(m.timings.is_empty());
}

#[test]
fn detected_timings_feed_a_plan() {
    let r = report("nextest-junit.xml");
    let listed = lines("nextest-list.txt");
    let m = IdFormat::detect(&r).match_cases(&listed, &r.cases);
    let timings: Timings = m.timings.into_iter().collect();
    let plan = partition(&listed, &timings, 2);
    assert_eq!(plan.estimated, 0);
    assert_eq!(plan.shards.iter().map(|s| s.tests.len()).sum::<usize>(), 7);
}

#[test]
fn templates() {
    let fmt = IdFormat::parse("{suite}/{{{file}}}#{name}").unwrap();
    let r = report("nested-suites.xml");
    let case = r.cases.iter().find(|c| c.name == "deep two").unwrap();
    assert_eq!(
        fmt.case_key(case).as_deref(),
        Some("root.inner/{spec/inner_spec.rb}#deep two")
    );
    let no_file = IdFormat::parse("{file}").unwrap();
    let r = report("go-junit-report.xml");
    assert_eq!(no_file.case_key(&r.cases[0]), None);
    assert!(matches!(
        IdFormat::parse("{nme}"),
        Err(IdFormatError::UnknownField { .. })
    ));
    assert!(IdFormat::parse("{name").is_err());
    assert!(IdFormat::parse("name}").is_err());
    assert!(IdFormat::parse("plain").is_err());
    let err = IdFormat::for_tool("rspec").unwrap_err();
    assert!(
        err.to_string()
            .contains("nextest, pytest, jest, surefire or go"),
        "{err}"
    );
    assert_eq!(
        IdFormat::for_tool("maven").unwrap().template(),
        "{classname}"
    );
}

#[test]
fn specs_from_a_pipeline() {
    assert_eq!(
        IdFormat::from_spec("pytest").unwrap(),
        IdFormat::for_tool("pytest").unwrap()
    );
    let custom = IdFormat::from_spec("pytest:{file}::{name}").unwrap();
    assert_eq!(
        (custom.template(), custom.normalize()),
        ("{file}::{name}", Normalize::Python)
    );
    let plain = IdFormat::from_spec("{classname}::{name}").unwrap();
    assert_eq!(plain.normalize(), Normalize::Exact);
    let colon = IdFormat::from_spec("unknown:{name}").unwrap();
    assert_eq!(
        colon.template(),
        "unknown:{name}",
        "not a tool: the whole text is the template"
    );
    assert!(IdFormat::from_spec("rspec").is_err());
    assert!(IdFormat::from_spec("pytest:{nope}").is_err());
}

#[test]
fn failed_cases_matching_no_id_are_counted() {
    let r = report("nextest-junit.xml");
    let failed_cases = r
        .cases
        .iter()
        .filter(|c| c.outcome == railyard_split::junit::Outcome::Failed)
        .count();
    assert!(failed_cases > 0, "the fixture holds a failure");
    let fmt = IdFormat::parse("{classname}::{name}").unwrap();
    let m = fmt.match_cases(&lines("nextest-list.txt"), &r.cases);
    assert!(m.failed.is_empty(), "no id matches");
    assert_eq!(m.unmatched_failures, failed_cases);
    let right = IdFormat::detect(&r).match_cases(&lines("nextest-list.txt"), &r.cases);
    assert_eq!(right.unmatched_failures, 0, "{right:?}");
    assert!(!right.failed.is_empty());
}
