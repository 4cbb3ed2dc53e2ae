//! Fixture loading.

use std::path::PathBuf;

use railyard_split::{Report, junit};

pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("read fixture {name}: {e}"))
}

pub fn report(name: &str) -> Report {
    junit::parse_report(&fixture_path(name), &fixture(name))
        .unwrap_or_else(|e| panic!("parse {name}: {e}"))
}

pub fn lines(name: &str) -> Vec<String> {
    String::from_utf8(fixture(name))
        .expect("utf-8")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}
