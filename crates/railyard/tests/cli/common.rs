//! A scratch project and the built binary.

use std::path::Path;
use std::process::{Command, Output};

pub struct Project {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

impl Project {
    pub fn new(pipeline: &str) -> Project {
        let p = Project {
            dir: tempfile::tempdir().unwrap(),
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
        let inner = self.cmd(args);
        let quoted: Vec<String> = std::iter::once(inner.get_program())
            .chain(inner.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', r"'\''")))
            .collect();
        let line = format!("stty cols {columns} rows 50; exec {}", quoted.join(" "));
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

    /// The runs as `railyard runs --json` lists them.
    pub fn runs(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["runs", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails when Docker still holds anything labelled with this run.
pub fn assert_nothing_left(run_id: &str) {
    for kind in ["ps -a", "network ls", "volume ls"] {
        let mut args: Vec<&str> = kind.split(' ').collect();
        let filter = format!("label=io.railyard.run={run_id}");
        args.extend(["-q", "--filter", &filter]);
        let out = Command::new("docker").args(&args).output().unwrap();
        assert!(
            out.stdout.is_empty(),
            "docker {kind} still lists objects of run {run_id}: {}",
            text(&out.stdout)
        );
    }
}

/// Whether Docker holds anything labelled with this run.
pub fn anything_left(run_id: &str) -> bool {
    let filter = format!("label=io.railyard.run={run_id}");
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &filter])
        .output()
        .unwrap();
    !out.stdout.is_empty()
}
