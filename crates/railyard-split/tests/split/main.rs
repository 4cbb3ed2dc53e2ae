//! railyard-split's integration tests: one binary, a module per area. Reports under
//! `tests/fixtures/` are real tools' output (nextest and pytest, generated here) or written in
//! the exact shape those tools use (jest-junit, Surefire, go-junit-report).

mod common;
mod fuzz;
mod ids;
mod junit;
mod merge;
mod queue;
mod real_tools;
mod reports;
