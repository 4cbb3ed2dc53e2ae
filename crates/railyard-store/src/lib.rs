//! Persistence behind one interface: runs, jobs, steps and their logs, and (for the scanner)
//! image inventories and advisories. SQLite file by default, PostgreSQL for a fleet, one set of
//! run-time-checked queries over sqlx's `AnyPool` (placeholders `$N`, times as i64 ms, ids and
//! JSON as text, keys made by the app).
#![warn(missing_docs)]

mod advisories;
mod errors;
mod inventory;
mod logs;
mod runs;

pub use errors::StoreError;
