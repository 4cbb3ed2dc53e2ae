//! Skipping a test's work out loud.

use std::io::Write;

/// The file `./scripts/test.sh` names for skipped tests to note themselves in, one line each,
/// so that it can say at the end how many skipped and why.
pub const SKIPS_ENV: &str = "RAILYARD_TEST_SKIPS";

/// Notes that the calling test skipped (part of) its work because `why`, e.g. `"rpm is not
/// installed (apt-get install rpm)"`: on stderr, and as a line in the file named by
/// [`SKIPS_ENV`]. Under `CI=true` it panics instead: CI installs every tool the tests compare
/// against, and a skip there would pass without testing anything.
pub fn skip(why: &str) {
    // The test harness names each test's thread after the test.
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} cannot do its work: {why} (under CI=true a skip fails the test)");
    }
    eprintln!("SKIPPED {test}: {why}");
    if let Some(path) = std::env::var_os(SKIPS_ENV) {
        let noted = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{test}: {why}"));
        if let Err(e) = noted {
            eprintln!(
                "warning: noting the skip in {}: {e}",
                path.to_string_lossy()
            );
        }
    }
}
