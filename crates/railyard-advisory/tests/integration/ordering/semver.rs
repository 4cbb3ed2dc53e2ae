//! SemVer (npm, crates.io) against npm's own `semver` module, run with node.

use super::{check, pair_count, run_batch, sym};
use crate::seeded::{Rng, pairs};
use std::process::Command;

fn sv_make(rng: &mut Rng) -> String {
    let n = |rng: &mut Rng| rng.pick(&[0u64, 1, 2, 9, 10, 11, 99]).to_string();
    let mut v = String::new();
    if rng.chance(10) {
        v.push('v');
    }
    v.push_str(&format!("{}.{}.{}", n(rng), n(rng), n(rng)));
    if rng.chance(45) {
        let ids: Vec<&str> = (0..1 + rng.below(3))
            .map(|_| {
                rng.pick(&[
                    "alpha", "beta", "rc", "0", "1", "2", "10", "x-y", "alpha1", "11", "01",
                ])
            })
            .collect();
        v.push('-');
        v.push_str(&ids.join("."));
    }
    if rng.chance(15) {
        v.push_str(rng.pick(&["+build.1", "+sha.abc", "+001", "+x"]));
    }
    if rng.chance(3) {
        v.push_str(rng.pick(&[".4", "-", "+"]));
    }
    v
}

fn sv_mutate(rng: &mut Rng, a: &str) -> String {
    let core_end = a.find(['-', '+']).unwrap_or(a.len());
    match rng.below(7) {
        0 if !a.contains('+') => format!("{a}{}", if a.contains('-') { ".1" } else { "-0" }),
        1 if !a.contains('+') => format!("{a}+meta"),
        2 => a[..core_end].to_string(),
        3 => {
            let mut s = a.to_string();
            if let Some(i) = s[..core_end].rfind(|c: char| c.is_ascii_digit()) {
                s.replace_range(i..=i, &rng.below(10).to_string());
            }
            s
        }
        4 => a.trim_start_matches('v').to_string(),
        _ => a.to_string(),
    }
}

const NODE_SEMVER: &str = r#"
const semver = require(process.argv[1]);
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
console.log(lines.map((l) => {
  const [a, b] = l.split(" ");
  const pa = semver.parse(a), pb = semver.parse(b);
  if (!pa || !pb) return "E";
  const c = semver.compare(pa, pb);
  return c < 0 ? "<" : c > 0 ? ">" : "=";
}).join("\n"));
"#;

#[test]
fn semver_matches_node_semver() {
    // npm bundles the `semver` package npm itself uses to order versions.
    let root = Command::new("npm")
        .args(["root", "-g"])
        .output()
        .ok()
        .filter(|o| o.status.success());
    let module = root.map(|o| {
        std::path::PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
            .join("npm/node_modules/semver")
    });
    let Some(module) = module.filter(|m| m.join("package.json").exists()) else {
        railyard_test_support::skip(
            "node with npm's semver module is not installed (apt-get install nodejs npm)",
        );
        return;
    };
    let mut rng = Rng::new(0x5E3E4);
    let pairs = pairs(&mut rng, pair_count(), sv_make, sv_mutate);
    let ours: Vec<String> = pairs
        .iter()
        .map(
            |(a, b)| match railyard_advisory::version::semver::compare(a, b) {
                Ok(o) => sym(o).to_string(),
                Err(_) => "E".to_string(),
            },
        )
        .collect();
    let input = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    let theirs = run_batch(
        "node",
        &["-e", NODE_SEMVER, module.to_str().unwrap()],
        input,
    );
    check("node semver (npm's)", &pairs, ours, theirs);
}
