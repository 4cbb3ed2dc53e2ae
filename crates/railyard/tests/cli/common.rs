//! A scratch project and the built binary.

use std::path::Path;
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

impl Project {
    pub fn new(pipeline: &str) -> Project {
        Project::in_dir(tempfile::tempdir().unwrap(), pipeline)
    }

    /// A project at `/tmp/ry-XXXXXXXX`, whatever `TMPDIR` says: tables that show its path are
    /// as wide on every machine, and [`Project::redactions`] hides the random part.
    pub fn in_tmp(pipeline: &str) -> Project {
        let dir = tempfile::Builder::new()
            .prefix("ry-")
            .rand_bytes(8)
            .tempdir_in("/tmp")
            .unwrap();
        Project::in_dir(dir, pipeline)
    }

    fn in_dir(dir: tempfile::TempDir, pipeline: &str) -> Project {
        let p = Project {
            dir,
            home: tempfile::tempdir().unwrap(),
        };
        p.write(".railyard.yml", pipeline);
        let ok = Command::new("git")
            .args(["init", "-q"])
            .current_dir(p.root())
            .status()
            .unwrap()
            .success();
        assert!(ok);
        p
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `railyard ARGS` in the project, with a cleared environment but for what it needs.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_railyard"));
        cmd.args(args)
            .current_dir(self.root())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("RAILYARD_HOME", self.home.path().join("data"))
            .env("NO_COLOR", "1");
        if let Some(host) = std::env::var_os("DOCKER_HOST") {
            cmd.env("DOCKER_HOST", host);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// `railyard ARGS` on a terminal `columns` wide (a pseudo-terminal from util-linux's
    /// `script`), with [`Project::cmd`]'s environment; its output, lines ending in `\n`.
    pub fn on_terminal(&self, args: &[&str], columns: u16) -> String {
        self.terminal(args, columns, None)
    }

    /// `railyard ARGS` with stdout on a terminal `columns` wide and stderr in a file, as
    /// `railyard run 2>log` on a terminal: the tables fit the terminal and no live display is
    /// drawn (it needs both on a terminal), so the output is the same from run to run.
    /// Returns (stdout, stderr).
    pub fn on_terminal_stdout(&self, args: &[&str], columns: u16) -> (String, String) {
        let err = self.home.path().join("stderr.txt");
        let stdout = self.terminal(args, columns, Some(&err));
        (stdout, std::fs::read_to_string(&err).unwrap_or_default())
    }

    fn terminal(&self, args: &[&str], columns: u16, stderr: Option<&Path>) -> String {
        let quote =
            |a: &std::ffi::OsStr| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''"));
        let inner = self.cmd(args);
        let quoted: Vec<String> = std::iter::once(inner.get_program())
            .chain(inner.get_args())
            .map(quote)
            .collect();
        let mut line = format!("stty cols {columns} rows 50; exec {}", quoted.join(" "));
        if let Some(path) = stderr {
            line.push_str(&format!(" 2>{}", quote(path.as_os_str())));
        }
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .current_dir(self.root())
            .env_clear()
            .stdin(std::process::Stdio::null());
        for (key, value) in inner.get_envs() {
            if let Some(value) = value {
                cmd.env(key, value);
            }
        }
        let out = cmd.output().unwrap();
        text(&out.stdout).replace("\r\n", "\n")
    }

    /// Snapshot settings hiding what changes from run to run, each placeholder as wide as
    /// what it hides so that tables stay aligned: run IDs, durations, dates, image IDs, env
    /// image keys, this project's folder (see [`Project::in_tmp`]) and its data folder.
    pub fn redactions(&self) -> insta::Settings {
        let mut s = insta::Settings::clone_current();
        let home = regex_escape(&self.home.path().display().to_string());
        s.add_filter(&home, "[home]");
        s.add_filter(r"/tmp/ry-[A-Za-z0-9]{8}", "/tmp/ry-XXXXXXXX");
        s.add_filter(r"\b[0-9A-HJKMNP-TV-Z]{26}\b", "[run id..................]");
        s.add_filter(
            r"\b[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}\b",
            "[run id..................]",
        );
        s.add_filter(
            r"railyard-env:[0-9a-f]{24}",
            "railyard-env:[key..................]",
        );
        s.add_filter(r"\b[0-9a-f]{12}\b", "[image id..]");
        s.add_filter(r"\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\b", "YYYY-MM-DD hh:mm:ss");
        s.add_filter(r"\b(\d\.\d\ds|\d\d\.\ds|\dm\d\ds)", "#.##s");
        s
    }

    /// The runs as `railyard runs --json` lists them.
    pub fn runs(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["runs", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

/// `s` matched literally in a regular expression.
fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails when Docker still holds anything of this run (labelled with it, or named after it).
pub use railyard_test_support::docker::assert_nothing_left;

/// Whether Docker holds anything labelled with this run.
pub fn anything_left(run_id: &str) -> bool {
    let filter = format!("label=io.railyard.run={run_id}");
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &filter])
        .output()
        .unwrap();
    !out.stdout.is_empty()
}
