//! Reports written by real tools during the test: cargo-nextest on a scratch crate (with a
//! failing, a slow and a flaky test), its `list` output mapped onto its JUnit by the detected
//! default; pytest likewise in both JUnit families. Each skips loudly where its tool is
//! missing (failing under `CI=true`).

use std::path::Path;
use std::process::Command;

use railyard_split::{IdFormat, Outcome, Timings, junit, partition};

fn nextest_available() -> bool {
    Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn cargo(dir: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("cargo");
    cmd.args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", dir.join("target"));
    // Do not let the outer nextest run steer the inner one.
    for (k, _) in std::env::vars() {
        if k.starts_with("NEXTEST") || k.starts_with("__NEXTEST") || k == "RUST_TEST_THREADS" {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("run cargo")
}

#[test]
fn nextest_junit_from_a_real_run() {
    if !nextest_available() {
        railyard_test_support::skip(
            "cargo nextest is not installed (cargo install --locked cargo-nextest)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join(".config")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    let marker = root.join("flaky-marker");
    std::fs::write(
        root.join("src/lib.rs"),
        format!(
            r#"
#[cfg(test)]
mod tests {{
    #[test]
    fn quick() {{}}
    #[test]
    fn slow() {{ std::thread::sleep(std::time::Duration::from_millis(300)); }}
    #[test]
    fn broken() {{ assert_eq!(1, 2, "a < b & c"); }}
    #[test]
    fn flaky() {{
        let p = std::path::Path::new({marker:?});
        if !p.exists() {{ std::fs::write(p, "x").unwrap(); panic!("first try"); }}
    }}
}}
"#
        ),
    )
    .unwrap();
    std::fs::write(
        root.join(".config/nextest.toml"),
        "[profile.ci]\nretries = 1\nfail-fast = false\n[profile.ci.junit]\npath = \"junit.xml\"\n",
    )
    .unwrap();

    let list = cargo(
        root,
        &[
            "nextest",
            "list",
            "--message-format",
            "oneline",
            "--offline",
        ],
    );
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let listed: Vec<String> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(listed.len(), 4, "{listed:?}");

    let run = cargo(root, &["nextest", "run", "--profile", "ci", "--offline"]);
    assert!(!run.status.success(), "a test fails on purpose");
    let path = root.join("target/nextest/ci/junit.xml");
    let bytes = std::fs::read(&path).expect("nextest wrote its JUnit report");
    let report = junit::parse_report(&path, &bytes).unwrap();
    let format = IdFormat::detect(&report);
    assert_eq!(format, IdFormat::for_tool("nextest").unwrap());
    let m = format.match_cases(&listed, &report.cases);
    assert!(
        m.unmatched_ids.is_empty() && m.unmatched_cases == 0,
        "{m:?}"
    );
    assert_eq!(m.failed, ["scratch tests::broken"]);
    assert_eq!(m.flaky, ["scratch tests::flaky"]);
    let broken = report
        .cases
        .iter()
        .find(|c| c.name == "tests::broken")
        .unwrap();
    assert_eq!(broken.outcome, Outcome::Failed);
    let timings: Timings = m.timings.into_iter().collect();
    assert!(timings.get("scratch tests::slow").unwrap() >= 0.3);
    // Longest first by the measured times: on a loaded machine `broken` (a panic in a
    // process of its own) can take longer than `slow`'s 300 ms, so the id is not fixed.
    let longest = listed
        .iter()
        .max_by(|a, b| timings.get(a).unwrap().total_cmp(&timings.get(b).unwrap()))
        .unwrap();
    let plan = partition(&listed, &timings, 2);
    assert_eq!(&plan.shards[0].tests[0], longest, "longest first");
}

/// A pytest that runs: `pytest`, `pytest-3` (Debian's python3-pytest) or `python3 -m pytest`.
fn pytest() -> Option<Vec<String>> {
    let candidates: [&[&str]; 4] = [
        &["pytest"],
        &["pytest-3"],
        &["python3", "-m", "pytest"],
        &["/usr/bin/python3", "-m", "pytest"],
    ];
    candidates.iter().find_map(|c| {
        let ok = Command::new(c[0])
            .args(&c[1..])
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| c.iter().map(|s| s.to_string()).collect())
    })
}

#[test]
fn pytest_junit_from_a_real_run() {
    let Some(pytest) = pytest() else {
        railyard_test_support::skip("pytest is not installed (pip install pytest)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("tests/deep")).unwrap();
    std::fs::write(
        root.join("tests/test_shop.py"),
        r#"
import time, pytest

class TestCart:
    def test_slow(self):
        time.sleep(0.3)

    @pytest.mark.parametrize("n", ["a b", "x/y", "p::q"])
    def test_param(self, n):
        pass

def test_broken():
    assert "<&>" == "x"

@pytest.mark.skip(reason="later")
def test_later():
    pass
"#,
    )
    .unwrap();
    std::fs::write(
        root.join("tests/deep/test_more.py"),
        "def test_more():\n    pass\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(&pytest[0])
            .args(&pytest[1..])
            .args(["-p", "no:cacheprovider"])
            .args(extra)
            .current_dir(root)
            .env_remove("PYTEST_ADDOPTS")
            .output()
            .expect("run pytest")
    };
    let list = run(&["--collect-only", "-q"]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stdout)
    );
    let listed: Vec<String> = String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("::"))
        .map(String::from)
        .collect();
    assert_eq!(listed.len(), 7, "{listed:?}");
    for family in ["xunit2", "xunit1"] {
        let out = root.join(format!("junit-{family}.xml"));
        let option = format!("junit_family={family}");
        let junit_arg = format!("--junitxml={}", out.display());
        run(&["-q", "-o", &option, &junit_arg]);
        let bytes = std::fs::read(&out).expect("pytest wrote its report");
        let report = junit::parse_report(&out, &bytes).unwrap();
        let format = IdFormat::detect(&report);
        assert_eq!(format, IdFormat::for_tool("pytest").unwrap(), "{family}");
        let m = format.match_cases(&listed, &report.cases);
        assert!(
            m.unmatched_ids.is_empty() && m.unmatched_cases == 0,
            "{family}: {m:?}"
        );
        assert_eq!(m.failed, ["tests/test_shop.py::test_broken"], "{family}");
        let timings: Timings = m.timings.into_iter().collect();
        assert!(
            timings
                .get("tests/test_shop.py::TestCart::test_slow")
                .unwrap()
                >= 0.3
        );
        assert!(
            timings
                .get("tests/test_shop.py::TestCart::test_param[p::q]")
                .is_some()
        );
        assert!(
            timings.get("tests/test_shop.py::test_later").is_none(),
            "skipped: no timing"
        );
    }
}
