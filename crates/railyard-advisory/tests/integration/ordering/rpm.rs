//! RPM against rpm's own `rpm.vercmp` (Lua, in one `rpm --eval`).

use super::debian::deb_digits;
use super::{check, pair_count, run_batch, sym, tool_present};
use crate::seeded::{Rng, pairs};
use railyard_advisory::version::rpm;

fn rpm_piece(rng: &mut Rng) -> String {
    let sep = rng.pick(&[".", ".", "_", "+", "~", "^", ""]);
    let body = if rng.chance(60) {
        deb_digits(rng)
    } else {
        rng.pick(&["a", "b", "rc", "git", "el", "fc", "Z", "beta", "pre", "p"])
            .to_string()
    };
    format!("{sep}{body}")
}

fn rpm_make(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(15) {
        v.push_str(&format!("{}:", rng.below(3)));
    }
    v.push_str(&deb_digits(rng));
    for _ in 0..rng.below(5) {
        v.push_str(&rpm_piece(rng));
    }
    if rng.chance(70) {
        v.push('-');
        v.push_str(&deb_digits(rng));
        for _ in 0..rng.below(3) {
            v.push_str(rng.pick(&[".el9", ".el9_2", ".fc40", "~rc1", "^git1", ".1", "a"]));
        }
    }
    v
}

fn rpm_mutate(rng: &mut Rng, a: &str) -> String {
    match rng.below(8) {
        0 => format!("{a}~{}", deb_digits(rng)),
        1 => format!("{a}^"),
        2 => format!("{a}.0"),
        3 => format!("{a}a"),
        4 if !a.contains(':') => format!("{}:{a}", rng.below(2)),
        5 => {
            let mut s = a.to_string();
            if let Some(i) = s.rfind(|c: char| c.is_ascii_digit()) {
                s.replace_range(i..=i, &rng.below(10).to_string());
            }
            s
        }
        6 => a.replace('.', "_"),
        _ => a.to_string(),
    }
}

#[test]
fn rpm_matches_rpm_vercmp() {
    if !tool_present("rpm", &["--version"]) {
        railyard_test_support::skip("rpm is not installed (apt-get install rpm)");
        return;
    }
    let mut rng = Rng::new(0x52504D);
    let pairs = pairs(&mut rng, pair_count(), rpm_make, rpm_mutate);
    let ours: Vec<String> = pairs
        .iter()
        .map(|(a, b)| {
            sym(rpm::compare(a, b).unwrap_or_else(|e| panic!("generated version rejected: {e}")))
                .to_string()
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("pairs");
    let text: String = pairs.iter().map(|(a, b)| format!("{a} {b}\n")).collect();
    std::fs::write(&list, text).unwrap();
    // One rpm process: its Lua interpreter compares every pair with rpm.vercmp (full EVR).
    let lua = format!(
        "%{{lua: for line in io.lines('{}') do local a, b = line:match('^(%S+) (%S+)$'); \
         local r = rpm.vercmp(a, b); io.write(r < 0 and '<' or (r > 0 and '>' or '='), '\\n') end}}",
        list.display()
    );
    let theirs = run_batch("rpm", &["--eval", &lua], String::new());
    let theirs: Vec<String> = theirs.into_iter().filter(|l| !l.is_empty()).collect();
    check("rpm.vercmp (rpm 4.18)", &pairs, ours, theirs);
}
