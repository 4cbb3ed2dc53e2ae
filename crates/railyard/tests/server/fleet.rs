//! What the server tests share: a [`Fleet`] (a real server process, agent processes and a bare
//! git repository in a temp folder), HTTP over loopback, and leftover checks.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN: &str = "admin-secret";
pub const AGENT: &str = "agent-secret";

/// A server with its data folder, a bare repository, and the agents started so far.
pub struct Fleet {
    pub dir: tempfile::TempDir,
    pub server: Child,
    pub url: String,
    pub agents: Vec<Child>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in self
            .agents
            .iter_mut()
            .chain(std::iter::once(&mut self.server))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_railyard"));
    // A home of this test process's own: a data folder nobody names (an agent's inventory)
    // lands there, never in the user's home or the crate's folder.
    let home = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("home-{}", std::process::id()));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .env("RAILYARD_LOG", "info");
    if let Some(host) = std::env::var_os("DOCKER_HOST") {
        cmd.env("DOCKER_HOST", host);
    }
    cmd
}

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command, killing it if it takes longer than `secs`.
pub fn output_within(mut cmd: Command, secs: u64) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("command took over {secs}s: {}", text(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

impl Fleet {
    /// A bare repository holding `pipeline`, and a server on port 0 with a 3 s lease.
    pub fn start(pipeline: &str) -> Fleet {
        Fleet::start_on(pipeline, None)
    }

    /// Like [`Fleet::start`], on the given database URL instead of the data folder's SQLite.
    pub fn start_on(pipeline: &str, database: Option<&str>) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(
            dir.path(),
            &["init", "-q", "--bare", "--initial-branch=main", "repo.git"],
        );
        git(&work, &["init", "-q", "--initial-branch=main"]);
        std::fs::write(work.join(".railyard.yml"), pipeline).unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-qm", "pipeline"]);
        git(&work, &["push", "-q", "../repo.git", "main"]);

        let (server, url) = spawn_server(dir.path(), "127.0.0.1:0", database);
        Fleet {
            dir,
            server,
            url,
            agents: Vec::new(),
        }
    }

    /// Kills the server (SIGKILL) and starts it again on the same address and data.
    pub fn restart_server(&mut self, database: Option<&str>) {
        self.restart_server_with(database, &[]);
    }

    /// Like [`Fleet::restart_server`], with these flags added.
    pub fn restart_server_with(&mut self, database: Option<&str>, flags: &[&str]) {
        self.server.kill().unwrap();
        self.server.wait().unwrap();
        let addr = self.url.trim_start_matches("http://").to_string();
        let (server, url) = spawn_server_with(self.dir.path(), &addr, database, flags);
        assert_eq!(url, self.url);
        self.server = server;
    }

    /// Adds a file to the fleet's repository (committed and pushed).
    pub fn push_file(&self, path: &str, contents: &str) {
        let work = self.dir.path().join("work");
        let file = work.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, contents).unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "-qm", path]);
        git(&work, &["push", "-q", "../repo.git", "main"]);
    }

    pub fn repo_url(&self) -> String {
        format!("file://{}", self.dir.path().join("repo.git").display())
    }

    pub fn agent(&mut self, name: &str) -> usize {
        self.agent_with_slots(name, 1)
    }

    /// An agent taking up to `slots` jobs at once; its log goes to `<name>.err`.
    pub fn agent_with_slots(&mut self, name: &str, slots: u32) -> usize {
        self.agent_with(name, &["--slots", &slots.to_string()])
    }

    /// The data folder of agent `name` (its layer cache of image scans).
    pub fn agent_home(&self, name: &str) -> PathBuf {
        self.dir.path().join(format!("{name}-home"))
    }

    /// An agent started with these flags besides its server, token and name.
    pub fn agent_with(&mut self, name: &str, flags: &[&str]) -> usize {
        let child = bin()
            .env("RAILYARD_HOME", self.agent_home(name))
            .args([
                "agent", "--server", &self.url, "--token", AGENT, "--name", name,
            ])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join(format!("{name}.err"))).unwrap())
            .spawn()
            .unwrap();
        self.agents.push(child);
        self.agents.len() - 1
    }

    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = bin();
        cmd.args(args)
            .env("RAILYARD_SERVER", &self.url)
            .env("RAILYARD_TOKEN", ADMIN);
        cmd
    }

    /// Runs a CLI command against this server (120 s at most); asserts success, returns stdout.
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = output_within(self.cli(args), 120);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            text(&out.stderr),
            self.diagnostics()
        );
        text(&out.stdout)
    }

    /// The job's log as the server serves it (`GET /runs/{run}/logs/{job}`): it lives in the
    /// database, so any server of it answers alike. Asserts it exists.
    pub fn log(&self, run: &str, job: &str) -> String {
        // A shard's name (`test [2/3]`) holds a `/`: one path segment all the same.
        let segment = job.replace('/', "%2F").replace(' ', "%20");
        let (status, body) = self.get(&format!("/api/v1/runs/{run}/logs/{segment}"));
        assert_eq!(status, 200, "log of {job}: {body}\n{}", self.diagnostics());
        body
    }

    /// Waits (up to 120 s) until the job's log on the server holds `needle`.
    pub fn wait_for_log(&self, run: &str, job: &str, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, body) = self.get(&format!("/api/v1/runs/{run}/logs/{job}"));
            if status == 200 && body.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the job never started\n{}",
                self.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn diagnostics(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "err") {
                out.push_str(&format!(
                    "--- {}\n{}\n",
                    entry.file_name().to_string_lossy(),
                    std::fs::read_to_string(entry.path()).unwrap_or_default()
                ));
            }
        }
        out
    }

    /// GET with the admin token: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        http(&self.url, "GET", path, Some(ADMIN), "")
    }

    /// Polls the run until it ends, and asserts it succeeded.
    pub fn wait_success(&self, run: &str, secs: u64) -> serde_json::Value {
        self.wait_ended_as(run, secs, "success")
    }

    /// Polls the run until it ends, and asserts it ended as `status`.
    pub fn wait_ended_as(&self, run: &str, secs: u64, status: &str) -> serde_json::Value {
        let detail = self.wait_run(run, secs);
        assert_eq!(
            detail["run"]["status"],
            status,
            "{detail}\n{}",
            self.diagnostics()
        );
        detail
    }

    /// Polls the run until it ends.
    pub fn wait_run(&self, run: &str, secs: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, body) = self.get(&format!("/api/v1/runs/{run}"));
            assert_eq!(status, 200, "{body}");
            let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
            if !detail["run"]["finished_at"].is_null() {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "run {run} still going: {body}\n{}",
                self.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

/// Starts `railyard server` on `listen` with its data under `dir`; returns it and its URL.
pub fn spawn_server(dir: &Path, listen: &str, database: Option<&str>) -> (Child, String) {
    spawn_server_with(dir, listen, database, &[])
}

/// Like [`spawn_server`], with these flags added.
pub fn spawn_server_with(
    dir: &Path,
    listen: &str,
    database: Option<&str>,
    flags: &[&str],
) -> (Child, String) {
    let mut server = bin();
    server.args(["server", "--listen", listen, "--admin-token", ADMIN]);
    server.args(flags);
    if let Some(url) = database {
        server.args(["--database", url]);
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.err"))
        .unwrap();
    let server = server
        .args(["--agent-token", AGENT, "--lease-secs", "3"])
        .env("RAILYARD_HOME", dir.join("data"))
        .stderr(log);
    start_printing_address(server)
}

/// Spawns a prepared `railyard server` command and reads the address it prints.
pub fn start_printing_address(cmd: &mut Command) -> (Child, String) {
    let mut server = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the server printed its address");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("an address")
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{line}");
    (server, url)
}

/// A request with the token (when given) and a JSON body: (status, body).
pub use railyard_test_support::http::json as http;

/// Follows a job's log on the server at `base` (`GET …/logs/{job}/follow`) to its end: the
/// data of every event, the last one the job's status (the `end` event).
pub fn follow(base: &str, run: &str, job: &str) -> Vec<String> {
    let path = format!("/api/v1/runs/{run}/logs/{job}/follow");
    let (status, events) = http(base, "GET", &path, Some(ADMIN), "");
    assert_eq!(status, 200, "{events}");
    assert!(events.contains("event: end\ndata: "), "no end: {events}");
    events
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(str::to_string)
        .collect()
}

pub use railyard_test_support::docker::assert_nothing_left;

pub fn trigger(fleet: &Fleet) -> String {
    let out = output_within(
        fleet.cli(&["project", "add", "demo", "--repo", &fleet.repo_url()]),
        30,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = output_within(
        fleet.cli(&["trigger", "demo", "--ref", "main", "--json"]),
        60,
    );
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        fleet.diagnostics()
    );
    let triggered: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    triggered["run"]["id"].as_str().unwrap().to_string()
}

/// A fresh database on the PostgreSQL server named by `RAILYARD_TEST_POSTGRES_URL`, dropped
/// with the value; `None` after a loud skip when unset.
pub use railyard_test_support::pg::SyncPgDb as PgDb;
