//! Integration tests of railyard-advisory: one binary, a module per area.

mod fixtures;
mod fuzz;
mod import;
mod matching;
mod ordering;
mod policy;
mod seeded;
