//! The server's HTTP API in-process: `railyard_server::serve` on 127.0.0.1:0 inside the test,
//! over a real store (SQLite in a temp folder, or a fresh PostgreSQL database), spoken to with
//! the tests' one HTTP client. What needs an agent process, the CLI, a restart or a cut
//! connection stays with the real processes in `crates/railyard/tests/server`.

mod envelope;
mod inputs;
mod openapi;
mod people;
mod retention;
mod run_refs;
mod scans;
mod server;
mod webhooks;
