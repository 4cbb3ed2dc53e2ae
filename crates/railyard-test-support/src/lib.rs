//! What Railyard's tests share, as a dev-dependency only: one way to skip work loudly
//! ([`skip`]).
//!
//! A test that cannot do its work (a reference tool or PostgreSQL missing) must never count
//! as a quiet pass: it says so on stderr, notes it where `./scripts/test.sh` counts skips,
//! and under `CI=true` fails instead.

#![warn(missing_docs)]

mod skip;

pub use skip::{SKIPS_ENV, skip};
