//! The settings of the fuzz and property tests.

/// `RAILYARD_FUZZ_CASES` cases per property (default 128, fast enough for every test run;
/// longer runs: docs/security.md), and no failure files beside the sources: a failure is kept
/// as a named regression test. `PROPTEST_RNG_SEED` and the other `PROPTEST_` variables apply
/// as usual.
pub fn fuzz_config() -> proptest::test_runner::Config {
    let cases = std::env::var("RAILYARD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
