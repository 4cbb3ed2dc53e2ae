//! What a person reads, as snapshots on a terminal 100 columns wide: tables fit it, a
//! message is said once, names are names. Snapshots hide what changes from run to run
//! ([`Project::redactions`]).

use crate::common::{Project, text};

const COLUMNS: u16 = 100;

/// Every line of a table fits the terminal.
fn assert_fits(out: &str) {
    for line in out.lines() {
        assert!(
            line.chars().count() <= usize::from(COLUMNS),
            "{} columns: {line}\n{out}",
            line.chars().count()
        );
    }
}

/// From the first line starting with `start` to the end.
fn from<'a>(out: &'a str, start: &str) -> &'a str {
    let at = out
        .find(&format!("\n{start}"))
        .unwrap_or_else(|| panic!("no line starting with {start:?}:\n{out}"));
    &out[at + 1..]
}

/// An env that fails to build fails each of its jobs with the same long error: it is
/// printed once (it was repeated for every job), and the summary's details, the first line
/// of a message that holds the failing step's output, are cut to the terminal (231 columns).
#[test]
fn a_failed_env_build_is_said_once_and_the_summary_fits() {
    let p = Project::in_tmp(
        "env: { dockerfile: ci/Dockerfile }\njobs:\n  a:\n    script: [true]\n  b:\n    script: [true]\n",
    );
    p.write(
        "ci/Dockerfile",
        "FROM busybox\nRUN echo preparing the build environment of this project && exit 3\n",
    );
    let (out, err) = p.on_terminal_stdout(&["run"], COLUMNS);
    assert!(out.contains("run #1 failed"), "{out}\n{err}");
    let shown = from(&out, "✗ a failed");
    assert_fits(from(shown, "┌"));
    p.redactions()
        .bind(|| insta::assert_snapshot!("failed_env_build", shown));
}

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";

const DPKG_STATUS: &str = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n\nPackage: libc-bin\nStatus: install ok installed\nArchitecture: amd64\nSource: glibc\nVersion: 2.36-9+deb12u4\n";

const ADVISORY: &str = r#"{"id": "DSA-9001-1", "modified": "2026-11-01T00:00:00Z",
 "aliases": ["CVE-2099-0001"], "summary": "glibc: test advisory",
 "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
 "affected": [{"package": {"ecosystem": "Debian:12", "name": "glibc"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u5"}]}]}]}"#;

/// A pipeline whose env image a known vulnerability hits (`env.scan.fail_on`): the refusal
/// is printed once (it was printed three times, the summary's copy 268 columns wide), and
/// the image is filed in the inventory as `railyard-env:<key>`, which `who-has` and
/// `affected` show in tables of one style that fit the terminal (a bare `sha256:…`, in two
/// styles, 170 and 214 columns). An unknown advisory is said without a double negative, and
/// `scan` counts `1 layer`. The image is busybox with a dpkg status file of our own, so that
/// versions and layers are the same on every machine.
#[test]
fn a_refused_env_image_is_said_once_and_the_inventory_names_it() {
    let p = Project::in_tmp(
        "env:\n  dockerfile: ci/Dockerfile\n  scan: { fail_on: high }\njobs:\n  unit:\n    script: [true]\n",
    );
    // A key of its own (the comment), so that no image an earlier run left is `cached`.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    p.write(
        "ci/Dockerfile",
        &format!(
            "FROM busybox\nCOPY os-release /etc/os-release\nCOPY status /var/lib/dpkg/status\n# {nonce} {}\n",
            std::process::id()
        ),
    );
    p.write("ci/os-release", OS_RELEASE);
    p.write("ci/status", DPKG_STATUS);
    p.write("osv/DSA-9001-1.json", ADVISORY);
    let out = p.run(&["advisories", "import", "osv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    // The env image this run builds goes however the test ends.
    let _image = RemoveProjectImages(p.dir.path().to_path_buf());
    let (out, err) = p.on_terminal_stdout(&["run"], COLUMNS);
    assert!(out.contains("run #1 failed"), "{out}\n{err}");
    let shown = from(&out, "✓ env ci/Dockerfile");
    assert_fits(from(shown, "┌"));
    p.redactions()
        .bind(|| insta::assert_snapshot!("refused_env_image", shown));

    let who = p.on_terminal(&["inventory", "who-has", "libc6"], COLUMNS);
    assert_fits(&who);
    let affected = p.on_terminal(&["advisories", "affected", "CVE-2099-0001"], COLUMNS);
    assert_fits(&affected);
    let (_, unknown) = p.on_terminal_stdout(&["advisories", "affected", "NOPE-1"], COLUMNS);
    p.redactions().bind(|| {
        insta::assert_snapshot!("who_has", who);
        insta::assert_snapshot!("affected", affected);
        insta::assert_snapshot!("affected_unknown", unknown);
    });

    let scan = text(&p.run(&["scan", "busybox", "--no-store"]).stdout);
    assert!(scan.contains(", 1 layer, "), "{scan}");
}

/// Several jobs with long matrix names: the job prefix of their lines keeps one width (the
/// names overflowed it); an allowed failure reads `failed (allowed)`, in the run's output,
/// in `railyard runs RUN` and in the job's log (`failed_allowed`); a test that passed on a
/// retry is among the slowest once (it was listed twice). Then `split --explain` of the
/// same tests in queue mode says there is no plan per shard (it showed a static one).
#[test]
fn long_matrix_names_an_allowed_failure_and_a_retried_test_read_well() {
    let p = Project::in_tmp(
        r#"
env: { image: busybox }
jobs:
  lint:
    allow_failure: true
    script: [echo lint is unhappy, exit 3]
  test:
    matrix: { PYTHON_VERSION: ["3.11", "3.12"], DEBIAN_RELEASE: [bookworm] }
    script: [echo "python $PYTHON_VERSION"]
  unit:
    retry_failed: 1
    tests:
      list: "echo t_slow; echo t_flaky"
      run: sh ci/run.sh {tests}
      junit: report.xml
      format: "{name}"
"#,
    );
    // t_flaky fails its first run only.
    p.write(
        "ci/run.sh",
        r#"echo '<testsuites><testsuite name="t">' > report.xml
for t in "$@"; do
  if [ "$t" = t_flaky ] && [ ! -e .tried ]; then
    touch .tried
    echo "<testcase classname=\"t\" name=\"$t\" time=\"0.4\"><failure message=\"once\"/></testcase>" >> report.xml
  else
    echo "<testcase classname=\"t\" name=\"$t\" time=\"0.3\"/>" >> report.xml
  fi
done
echo '</testsuite></testsuites>' >> report.xml
! grep -q failure report.xml
"#,
    );
    let (out, err) = p.on_terminal_stdout(&["run", "-j", "1"], COLUMNS);
    assert!(out.contains("run #1 success"), "{out}\n{err}");
    assert_fits(from(&out, "┌"));
    assert_eq!(out.matches("t_flaky (").count(), 1, "{out}");
    let runs = p.on_terminal(&["runs", "1"], COLUMNS);
    assert_fits(&runs);
    p.redactions().bind(|| {
        insta::assert_snapshot!("matrix_run", out);
        insta::assert_snapshot!("matrix_runs", runs);
    });
    let log = text(&p.run(&["logs", "1", "lint"]).stdout);
    assert!(log.contains("railyard: job failed (allowed)"), "{log}");

    p.write(
        ".railyard.yml",
        r#"
env: { image: busybox }
jobs:
  unit:
    parallel: 2
    tests:
      list: "echo t_slow; echo t_flaky; echo t_other"
      run: sh ci/run.sh {tests}
      junit: report.xml
      format: "{name}"
      mode: queue
"#,
    );
    let explain = p.run(&["split", "unit", "--explain"]);
    assert!(explain.status.success(), "{}", text(&explain.stderr));
    p.redactions()
        .bind(|| insta::assert_snapshot!("queue_explain", text(&explain.stdout)));
}

/// Each command's help lists the options it takes: `server`, `agent`, `trigger` and
/// `project` listed the pipeline's `-f/--file` and `--data-dir` (only the server and the
/// agent, for its image inventory, keep a data folder), and `trigger`'s usage showed `--server` and `--token` as required when
/// RAILYARD_SERVER and RAILYARD_TOKEN set them.
#[test]
fn help_lists_only_the_options_a_command_takes() {
    let p = Project::new("jobs: {}\n");
    for command in ["server", "agent", "trigger", "project", "token", "agents"] {
        let help = p.on_terminal(&[command, "--help"], COLUMNS);
        assert!(!help.contains("--file"), "{command}: {help}");
        assert!(
            !help.contains("--network-pool") || command == "agent",
            "{command}: {help}"
        );
        assert!(
            !help.contains("--data-dir") || command == "server" || command == "agent",
            "{command}: {help}"
        );
    }
    let run = p.on_terminal(&["run", "--help"], COLUMNS);
    for option in ["--file", "--data-dir", "--network-pool", "--directory"] {
        assert!(run.contains(option), "{run}");
    }
    let trigger = p.on_terminal(&["trigger", "--help"], COLUMNS);
    insta::assert_snapshot!("trigger_help", trigger);

    // Still needed: a missing one is an input error saying what to pass.
    let out = p.run(&["trigger", "demo"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("no server given: pass --server http://host:port or set RAILYARD_SERVER"),
        "{}",
        text(&out.stderr)
    );
    // `--data-dir` after the subcommand of `inventory`, as before it.
    let out = p.run(&["inventory", "who-has", "libc6", "--data-dir", "elsewhere"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(p.root().join("elsewhere").exists());
}

/// Removes the images labelled with a project's folder (its env image) when dropped.
struct RemoveProjectImages(std::path::PathBuf);

impl Drop for RemoveProjectImages {
    fn drop(&mut self) {
        let canonical = self.0.canonicalize().unwrap_or_else(|_| self.0.clone());
        for root in [&self.0, &canonical] {
            let filter = format!("label=io.railyard.project={}", root.display());
            let Ok(out) = std::process::Command::new("docker")
                .args(["images", "-q", "--filter", &filter])
                .output()
            else {
                continue;
            };
            let ids = String::from_utf8_lossy(&out.stdout);
            let ids: std::collections::BTreeSet<&str> = ids.split_whitespace().collect();
            railyard_test_support::docker::RemoveImages::new(ids);
        }
    }
}
