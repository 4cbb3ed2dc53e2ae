//! Debian against `dpkg --compare-versions`.

use super::{check, pair_count, run_batch, sym, tool_present};
use crate::seeded::{Rng, pairs};
use railyard_advisory::version::debian;

pub fn deb_digits(rng: &mut Rng) -> String {
    let n = rng.pick(&[0u64, 1, 2, 3, 9, 10, 11, 99, 100, 2024]);
    if rng.chance(10) {
        format!("0{n}")
    } else {
        n.to_string()
    }
}

fn deb_piece(rng: &mut Rng, revision: bool) -> String {
    let seps: &[&str] = if revision {
        &[".", "+", "~", ""]
    } else {
        &[".", "+", "~", "", ".", "-"]
    };
    let sep = rng.pick(seps);
    let body = if rng.chance(55) {
        deb_digits(rng)
    } else {
        rng.pick(&[
            "a", "b", "rc", "beta", "z", "A", "Z", "dfsg", "git", "deb", "u", "bpo", "ubuntu", "",
        ])
        .to_string()
    };
    format!("{sep}{body}")
}

fn deb_make(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(15) {
        v.push_str(&format!("{}:", rng.below(4)));
    }
    let has_revision = rng.chance(70);
    v.push_str(&deb_digits(rng));
    for _ in 0..rng.below(5) {
        let piece = deb_piece(rng, !has_revision);
        v.push_str(&piece);
    }
    if has_revision {
        v.push('-');
        // A revision must not be empty and (for dpkg) should start alphanumerically.
        v.push_str(&deb_digits(rng));
        for _ in 0..rng.below(4) {
            v.push_str(&deb_piece(rng, true));
        }
    }
    v
}

fn deb_mutate(rng: &mut Rng, a: &str) -> String {
    let has_epoch = a.contains(':');
    match rng.below(9) {
        0 => format!("{a}~{}", deb_digits(rng)),
        1 => format!("{a}~"),
        2 => format!("{a}+b{}", rng.below(3)),
        3 => format!("{a}.0"),
        4 => format!("{a}a"),
        5 if !has_epoch => format!("{}:{a}", rng.below(2)),
        6 => {
            // change the last digit
            let mut s = a.to_string();
            if let Some(i) = s.rfind(|c: char| c.is_ascii_digit()) {
                s.replace_range(i..=i, &rng.below(10).to_string());
            }
            s
        }
        7 => {
            // add a leading zero to the last number
            let mut s = a.to_string();
            if let Some(i) = s.rfind(|c: char| !c.is_ascii_digit()) {
                s.insert(i + 1, '0');
            }
            s
        }
        _ => a.to_string(),
    }
}

#[test]
fn debian_matches_dpkg() {
    if !tool_present("dpkg", &["--version"]) {
        railyard_test_support::skip("dpkg is not installed");
        return;
    }
    let mut rng = Rng::new(0xDEB1A2);
    let pairs = pairs(&mut rng, pair_count(), deb_make, deb_mutate);
    let ours: Vec<String> = pairs
        .iter()
        .map(|(a, b)| {
            sym(debian::compare(a, b).unwrap_or_else(|e| panic!("generated version rejected: {e}")))
                .to_string()
        })
        .collect();
    // One shell per half, both at once; dpkg is one process per comparison.
    let script = r#"while read -r a b; do
        if dpkg --compare-versions "$a" lt "$b" 2>/dev/null; then echo '<';
        elif dpkg --compare-versions "$a" eq "$b" 2>/dev/null; then echo '=';
        else echo '>'; fi
    done"#;
    let half = pairs.len() / 2;
    let inputs: Vec<String> = [&pairs[..half], &pairs[half..]]
        .iter()
        .map(|chunk| chunk.iter().map(|(a, b)| format!("{a} {b}\n")).collect())
        .collect();
    let handles: Vec<_> = inputs
        .into_iter()
        .map(|input| std::thread::spawn(move || run_batch("sh", &["-c", script], input)))
        .collect();
    let theirs: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    check("dpkg --compare-versions", &pairs, ours, theirs);
}
