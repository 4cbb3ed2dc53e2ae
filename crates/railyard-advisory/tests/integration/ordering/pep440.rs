//! PEP 440 against Python's `packaging`.

use super::{check, pair_count, run_batch, sym, tool_present};
use crate::seeded::{Rng, pairs};
use railyard_advisory::version::pep440;

fn py_num(rng: &mut Rng) -> String {
    let n = rng.pick(&[0u64, 1, 2, 3, 9, 10, 12, 2024]);
    if rng.chance(8) {
        format!("0{n}")
    } else {
        n.to_string()
    }
}

fn py_make(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(5) {
        v.push_str(rng.pick(&["v", "V"]));
    }
    if rng.chance(10) {
        v.push_str(&format!("{}!", rng.below(3)));
    }
    let parts = 1 + rng.below(4);
    let release: Vec<String> = (0..parts).map(|_| py_num(rng)).collect();
    v.push_str(&release.join("."));
    if rng.chance(35) {
        v.push_str(rng.pick(&["", ".", "-", "_"]));
        v.push_str(rng.pick(&[
            "a", "b", "rc", "alpha", "beta", "c", "pre", "preview", "A", "RC",
        ]));
        if rng.chance(80) {
            v.push_str(&py_num(rng));
        }
    }
    if rng.chance(25) {
        let n = py_num(rng);
        let post = match rng.below(6) {
            0 => format!(".post{n}"),
            1 => format!("post{n}"),
            2 => format!("-{n}"),
            3 => ".post".to_string(),
            4 => format!("_rev{n}"),
            _ => format!("-r{n}"),
        };
        v.push_str(&post);
    }
    if rng.chance(25) {
        v.push_str(rng.pick(&[".dev", "dev", "-dev", "_DEV"]));
        if rng.chance(70) {
            v.push_str(&py_num(rng));
        }
    }
    if rng.chance(15) {
        v.push('+');
        let n = 1 + rng.below(3);
        for i in 0..n {
            if i > 0 {
                v.push_str(rng.pick(&[".", "-", "_"]));
            }
            v.push_str(rng.pick(&["abc", "1", "ubuntu", "5", "01", "Z9"]));
        }
    }
    v
}

fn py_mutate(rng: &mut Rng, a: &str) -> String {
    match rng.below(8) {
        0 if !a.contains('+') => format!("{a}.0"),
        1 if !a.contains('+') => format!("{a}+local.{}", rng.below(3)),
        2 if !a.contains('+') && !a.contains("dev") => format!("{a}.dev0"),
        3 => a.to_uppercase(),
        4 => a.replace('.', "-"),
        5 => {
            let mut s = a.to_string();
            if let Some(i) = s.rfind(|c: char| c.is_ascii_digit()) {
                s.replace_range(i..=i, &rng.below(10).to_string());
            }
            s
        }
        6 if !a.contains('!') => format!("0!{a}"),
        _ => a.to_string(),
    }
}

const PACKAGING: &str = r#"
import sys
from packaging.version import Version, InvalidVersion
for line in sys.stdin:
    a, b = line.rstrip("\n").split("\t")
    try:
        va, vb = Version(a), Version(b)
    except InvalidVersion:
        print("E")
        continue
    print("<" if va < vb else "=" if va == vb else ">")
"#;

#[test]
fn pep440_matches_python_packaging() {
    if !tool_present("python3", &["-c", "import packaging.version"]) {
        railyard_test_support::skip(
            "python3 with `packaging` is not installed (pip install packaging)",
        );
        return;
    }
    let mut rng = Rng::new(0x9E9440);
    let pairs = pairs(&mut rng, pair_count(), py_make, py_mutate);
    let ours: Vec<String> = pairs
        .iter()
        .map(|(a, b)| match pep440::compare(a, b) {
            Ok(o) => sym(o).to_string(),
            Err(_) => "E".to_string(),
        })
        .collect();
    let input = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let theirs = run_batch("python3", &["-c", PACKAGING], input);
    check("python packaging", &pairs, ours, theirs);
}
