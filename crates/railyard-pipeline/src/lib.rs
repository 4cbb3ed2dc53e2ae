//! The `.railyard.yml` pipeline file: its model, parsing with line/column diagnostics,
//! validation and the job graph.
#![warn(missing_docs)]

mod model;

pub use model::*;
