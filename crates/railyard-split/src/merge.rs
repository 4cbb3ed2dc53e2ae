//! One whole report out of many: the batches of a queue-mode job and the retries of failed
//! tests each write their own JUnit file; the job's report is their union, the last attempt
//! of each case winning, and a case that failed and then passed marked flaky.

use std::collections::HashMap;
use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCaseStatus, TestRerun, TestSuite};

use crate::errors::JunitError;
use crate::junit::{Outcome, TestCase};

type Identity = (Option<String>, Option<String>, String, Option<String>);

fn identity(c: &TestCase) -> Identity {
    (
        c.suite.clone(),
        c.classname.clone(),
        c.name.clone(),
        c.file.clone(),
    )
}

/// Folds attempts (first run, then each retry) into one case per test, in the order first
/// seen. A later attempt replaces an earlier one; a pass after a failure is flaky.
pub fn merge_attempts(attempts: &[Vec<TestCase>]) -> Vec<TestCase> {
    let mut index: HashMap<Identity, usize> = HashMap::new();
    let mut out: Vec<TestCase> = Vec::new();
    for attempt in attempts {
        for case in attempt {
            match index.get(&identity(case)) {
                Some(&i) => {
                    let failed_before = out[i].outcome == Outcome::Failed || out[i].flaky;
                    let mut next = case.clone();
                    if next.outcome == Outcome::Passed && failed_before {
                        next.flaky = true;
                        if next.message.is_none() {
                            next.message = out[i].message.clone();
                        }
                    }
                    out[i] = next;
                }
                None => {
                    index.insert(identity(case), out.len());
                    out.push(case.clone());
                }
            }
        }
    }
    out
}

/// Writes cases as one JUnit report named `report_name`, a `<testsuite>` per suite name
/// (cases without one go to a suite named like the report). Flaky cases carry a
/// `<flakyFailure>`, so tools that read nextest's or Surefire's reports see them.
pub fn write_junit(report_name: &str, cases: &[TestCase]) -> Result<String, JunitError> {
    let mut suites: Vec<TestSuite> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for case in cases {
        let suite_name = case
            .suite
            .clone()
            .unwrap_or_else(|| report_name.to_string());
        let i = *by_name.entry(suite_name.clone()).or_insert_with(|| {
            suites.push(TestSuite::new(suite_name));
            suites.len() - 1
        });
        suites[i].add_test_case(to_quick(case));
    }
    let mut report = quick_junit::Report::new(report_name);
    let total: f64 = cases.iter().filter_map(|c| c.time).sum();
    report.set_time(Duration::from_secs_f64(total));
    for mut suite in suites {
        let t: f64 = suite
            .test_cases
            .iter()
            .filter_map(|c| c.time)
            .map(|d| d.as_secs_f64())
            .sum();
        suite.set_time(Duration::from_secs_f64(t));
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .map_err(|e| JunitError::Write(e.to_string()))
}

/// An attribute's value as a reader will see it: quick-junit writes tabs and line breaks raw,
/// and XML reads those back as spaces (a name given as `&#10;` would not read back the same).
pub fn attribute(value: &str) -> String {
    value.replace(['\n', '\r', '\t'], " ")
}

fn to_quick(case: &TestCase) -> quick_junit::TestCase {
    let status = match case.outcome {
        Outcome::Passed => {
            let mut s = TestCaseStatus::success();
            if case.flaky {
                let mut rerun = TestRerun::new(NonSuccessKind::Failure);
                if let Some(m) = &case.message {
                    rerun.set_message(m.as_str());
                }
                s.add_rerun(rerun);
            }
            s
        }
        Outcome::Failed => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            if let Some(m) = &case.message {
                s.set_message(m.as_str());
            }
            s
        }
        Outcome::Skipped => {
            let mut s = TestCaseStatus::skipped();
            if let Some(m) = &case.message {
                s.set_message(m.as_str());
            }
            s
        }
    };
    let mut out = quick_junit::TestCase::new(attribute(&case.name).as_str(), status);
    if let Some(c) = &case.classname {
        out.set_classname(attribute(c).as_str());
    }
    if let Some(t) = case.time {
        out.set_time(Duration::from_secs_f64(t));
    }
    if let Some(f) = &case.file {
        out.extra.insert("file".into(), f.as_str().into());
    }
    out
}
