//! What Railyard's tests share, as a dev-dependency only: one way to skip work loudly
//! ([`skip`]), one way to get a fresh PostgreSQL database ([`pg`]), one HTTP client
//! ([`http`]), one check that a run left nothing on the engine ([`docker`]), a fake forge that
//! records commit statuses and fails on demand ([`forge`]), a real image registry
//! ([`registry`]), and the fuzz
//! tests' settings ([`fuzz_config`]).
//!
//! A test that cannot do its work (a reference tool or PostgreSQL missing) must never count
//! as a quiet pass: it says so on stderr, notes it where `./scripts/test.sh` counts skips,
//! and under `CI=true` fails instead.

#![warn(missing_docs)]

pub mod docker;
pub mod forge;
mod fuzz;
pub mod http;
pub mod pg;
pub mod registry;
mod skip;

pub use fuzz::fuzz_config;
pub use skip::{SKIPS_ENV, skip};

/// The runtime behind the blocking helpers (tests of real processes are plain `#[test]`s).
/// Calling them from inside another runtime panics, as any `block_on` there would.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime for the test helpers")
    })
}
