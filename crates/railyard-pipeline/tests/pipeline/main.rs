//! Integration tests of the pipeline crate: one binary, a module per area.

mod bad;
mod cache;
mod docs;
mod fuzz;
mod good;
mod graph;
mod limits;
mod manual;
mod matrix;
mod robust;
mod secrets;
mod sharding;
mod when;

use miette::{GraphicalReportHandler, GraphicalTheme};
use railyard_pipeline::{Pipeline, PipelineError, Problem, parse};
use std::path::Path;

/// Parses a file that must be valid.
pub fn ok(source: &str) -> Pipeline {
    match parse(Path::new(".railyard.yml"), source) {
        Ok(p) => p,
        Err(e) => panic!("expected a valid pipeline:\n{}", render(&e)),
    }
}

/// Parses a file that must be invalid.
pub fn err(source: &str) -> PipelineError {
    match parse(Path::new(".railyard.yml"), source) {
        Ok(p) => panic!("expected an error, parsed {p:#?}"),
        Err(e) => e,
    }
}

/// The only problem of an invalid file.
pub fn problem(source: &str) -> Problem {
    let e = err(source);
    assert_eq!(
        e.problems().len(),
        1,
        "expected one problem:\n{}",
        render(&e)
    );
    e.problems()[0].clone()
}

/// Asserts the one problem of `source`: its `file:line:column: message` and the
/// underlined text.
#[track_caller]
pub fn check(source: &str, message: &str, underlined: &str) -> Problem {
    let p = problem(source);
    assert_eq!(p.to_string(), message);
    assert_eq!(p.underlined(), underlined, "underlined text of {message}");
    p
}

/// The report as a terminal shows it, without colors.
pub fn render(e: &dyn miette::Diagnostic) -> String {
    let mut out = String::new();
    GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, e)
        .unwrap();
    out
}
