//! Version ordering against the real tools: Debian against `dpkg --compare-versions`, PEP 440
//! against Python's `packaging`, on a few thousand pairs from a seeded generator each. A tool
//! that is not installed skips its test loudly (failing it under `CI=true`). Each tool has its module: a
//! seeded generator of versions and mutations, and one batched call of the tool.

mod debian;
mod pep440;
mod rpm;
mod semver;

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

/// Pairs per tool; `RAILYARD_ORDERING_PAIRS=N` checks more (the seeds stay the same).
pub fn pair_count() -> usize {
    std::env::var("RAILYARD_ORDERING_PAIRS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(4000)
}

pub fn sym(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

/// Runs `program args…` with `input` on stdin and returns its stdout lines.
pub fn run_batch(program: &str, args: &[&str], input: String) -> Vec<String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {program}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{program} failed: {:?}", out.status);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

pub fn tool_present(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Compares our answers with the tool's, prints the figure, fails listing the disagreements.
pub fn check(tool: &str, pairs: &[(String, String)], ours: Vec<String>, theirs: Vec<String>) {
    assert_eq!(
        theirs.len(),
        pairs.len(),
        "{tool} answered {} of {} pairs",
        theirs.len(),
        pairs.len()
    );
    let mut bad = Vec::new();
    let mut counts = [0usize; 4];
    for (((a, b), o), t) in pairs.iter().zip(&ours).zip(&theirs) {
        counts[match t.as_str() {
            "<" => 0,
            "=" => 1,
            ">" => 2,
            _ => 3,
        }] += 1;
        if o != t {
            bad.push(format!("{a} vs {b}: ours {o}, {tool} {t}"));
        }
    }
    eprintln!(
        "checked {} pairs against {tool}: {} agree ({} <, {} =, {} >, {} invalid)",
        pairs.len(),
        pairs.len() - bad.len(),
        counts[0],
        counts[1],
        counts[2],
        counts[3]
    );
    assert!(
        bad.is_empty(),
        "{} disagreements with {tool}:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
