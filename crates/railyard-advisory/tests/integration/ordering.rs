//! Version ordering against the real tools: Debian against `dpkg --compare-versions`, PEP 440
//! against Python's `packaging`, on a few thousand pairs from a seeded generator each. A tool
//! that is not installed skips its test with a note on stderr.

use crate::seeded::{Rng, pairs};
use railyard_advisory::version::{debian, pep440, rpm};
use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

const PAIRS: usize = 4000;

fn sym(o: Ordering) -> &'static str {
    match o {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

/// Runs `program args…` with `input` on stdin and returns its stdout lines.
fn run_batch(program: &str, args: &[&str], input: String) -> Vec<String> {
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

fn tool_present(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Compares our answers with the tool's, prints the figure, fails listing the disagreements.
fn check(tool: &str, pairs: &[(String, String)], ours: Vec<String>, theirs: Vec<String>) {
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

// ---------- Debian ----------

fn deb_digits(rng: &mut Rng) -> String {
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
        eprintln!("note: dpkg is not installed; skipping the dpkg comparison");
        return;
    }
    let mut rng = Rng::new(0xDEB1A2);
    let pairs = pairs(&mut rng, PAIRS, deb_make, deb_mutate);
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

// ---------- PEP 440 ----------

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
        eprintln!(
            "note: python3 with `packaging` is not installed (pip install packaging); skipping"
        );
        return;
    }
    let mut rng = Rng::new(0x9E9440);
    let pairs = pairs(&mut rng, PAIRS, py_make, py_mutate);
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

// ---------- RPM ----------

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
        eprintln!("note: rpm is not installed (apt-get install rpm); skipping the rpm comparison");
        return;
    }
    let mut rng = Rng::new(0x52504D);
    let pairs = pairs(&mut rng, PAIRS, rpm_make, rpm_mutate);
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

// ---------- SemVer (npm, crates.io) ----------

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
        eprintln!(
            "note: node with npm's semver module is not installed; skipping the SemVer comparison"
        );
        return;
    };
    let mut rng = Rng::new(0x5E3E4);
    let pairs = pairs(&mut rng, PAIRS, sv_make, sv_mutate);
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
