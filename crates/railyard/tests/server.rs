//! A real server process, real agent processes and a real bare git repository on loopback:
//! pipelines queued by `railyard trigger` run on the agents against the real Docker engine.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const ADMIN: &str = "admin-secret";
const AGENT: &str = "agent-secret";

/// A server with its data folder, a bare repository, and the agents started so far.
struct Fleet {
    dir: tempfile::TempDir,
    server: Child,
    url: String,
    agents: Vec<Child>,
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

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_railyard"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("RAILYARD_LOG", "info");
    if let Some(host) = std::env::var_os("DOCKER_HOST") {
        cmd.env("DOCKER_HOST", host);
    }
    cmd
}

fn git(dir: &Path, args: &[&str]) {
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

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command, killing it if it takes longer than `secs`.
fn output_within(mut cmd: Command, secs: u64) -> Output {
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
    fn start(pipeline: &str) -> Fleet {
        Fleet::start_on(pipeline, None)
    }

    /// Like [`Fleet::start`], on the given database URL instead of the data folder's SQLite.
    fn start_on(pipeline: &str, database: Option<&str>) -> Fleet {
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
    fn restart_server(&mut self, database: Option<&str>) {
        self.server.kill().unwrap();
        self.server.wait().unwrap();
        let addr = self.url.trim_start_matches("http://").to_string();
        let (server, url) = spawn_server(self.dir.path(), &addr, database);
        assert_eq!(url, self.url);
        self.server = server;
    }

    fn repo_url(&self) -> String {
        format!("file://{}", self.dir.path().join("repo.git").display())
    }

    fn agent(&mut self, name: &str) -> usize {
        let child = bin()
            .args([
                "agent", "--server", &self.url, "--token", AGENT, "--slots", "1", "--name", name,
            ])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join(format!("{name}.err"))).unwrap())
            .spawn()
            .unwrap();
        self.agents.push(child);
        self.agents.len() - 1
    }

    fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = bin();
        cmd.args(args)
            .env("RAILYARD_SERVER", &self.url)
            .env("RAILYARD_TOKEN", ADMIN);
        cmd
    }

    fn log_path(&self, run: &str, job: &str) -> PathBuf {
        self.dir
            .path()
            .join("data/logs")
            .join(run)
            .join(format!("{job}.log"))
    }

    /// Waits (up to 120 s) until the job's log on the server holds `needle`.
    fn wait_for_log(&self, run: &str, job: &str, needle: &str) {
        let log = self.log_path(run, job);
        let deadline = Instant::now() + Duration::from_secs(120);
        while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains(needle)) {
            assert!(
                Instant::now() < deadline,
                "the job never started\n{}",
                self.diagnostics()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn diagnostics(&self) -> String {
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
    fn get(&self, path: &str) -> (u16, String) {
        http(&self.url, "GET", path, Some(ADMIN), "")
    }

    /// Polls the run until it ends.
    fn wait_run(&self, run: &str, secs: u64) -> serde_json::Value {
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
fn spawn_server(dir: &Path, listen: &str, database: Option<&str>) -> (Child, String) {
    let mut server = bin();
    server.args(["server", "--listen", listen, "--admin-token", ADMIN]);
    if let Some(url) = database {
        server.args(["--database", url]);
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.err"))
        .unwrap();
    let mut server = server
        .args(["--agent-token", AGENT, "--lease-secs", "3"])
        .env("RAILYARD_HOME", dir.join("data"))
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
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

/// A bare HTTP/1.1 request over loopback: (status, body).
fn http(base: &str, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let addr = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = text(&response);
    let (head, rest) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        unchunk(rest)
    } else {
        rest.to_string()
    };
    (status, body)
}

fn unchunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

fn assert_nothing_left(run_id: &str) {
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

fn trigger(fleet: &Fleet) -> String {
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

const TWO_JOBS: &str = "env: { image: busybox }\njobs:\n  build:\n    script:\n      - echo building\n      - for i in 1 2 3 4 5; do echo line-$i; done\n  test:\n    needs: [build]\n    script: [echo testing]\n";

#[test]
fn two_jobs_with_needs_run_on_an_agent_with_whole_logs() {
    two_jobs(Fleet::start(TWO_JOBS));
}

/// The same story on PostgreSQL, in a fresh database, when `RAILYARD_TEST_POSTGRES_URL` is set
/// (see `scripts/postgres-test-db.sh`).
#[test]
fn two_jobs_on_postgres() {
    let Ok(admin_url) = std::env::var("RAILYARD_TEST_POSTGRES_URL") else {
        eprintln!("note: RAILYARD_TEST_POSTGRES_URL is unset, skipping");
        return;
    };
    assert!(
        admin_url.starts_with("postgres://"),
        "RAILYARD_TEST_POSTGRES_URL must be a postgres:// URL, got [{admin_url}]"
    );
    let name = format!(
        "railyard_srv_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let psql = |sql: &str| {
        let out = Command::new("psql")
            .args(["-d", admin_url.as_str(), "-qc", sql])
            .output()
            .expect("psql runs");
        assert!(out.status.success(), "{sql}: {}", text(&out.stderr));
    };
    psql(&format!("CREATE DATABASE {name}"));
    let base = &admin_url[..admin_url.rfind('/').unwrap()];
    let url = format!("{base}/{name}");
    two_jobs(Fleet::start_on(TWO_JOBS, Some(&url)));
    psql(&format!("DROP DATABASE {name} WITH (FORCE)"));
}

fn two_jobs(mut fleet: Fleet) {
    fleet.agent("a1");
    let run = trigger(&fleet);
    let detail = fleet.wait_run(&run, 240);
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    let jobs = detail["jobs"].as_array().unwrap();
    let job = |name: &str| jobs.iter().find(|j| j["name"] == name).unwrap().clone();
    assert_eq!(job("build")["status"], "success");
    assert_eq!(job("test")["status"], "success");
    assert!(
        job("test")["started_at"].as_i64().unwrap()
            >= job("build")["finished_at"].as_i64().unwrap(),
        "test started before build ended: {detail}"
    );
    let build = std::fs::read_to_string(fleet.log_path(&run, "build")).unwrap();
    for i in 1..=5 {
        let line = format!("line-{i}");
        assert_eq!(build.lines().filter(|l| *l == line).count(), 1, "{build}");
    }
    assert!(build.lines().any(|l| l == "building"), "{build}");
    // The same log through the API.
    let (status, body) = fleet.get(&format!("/api/v1/runs/{run}/logs/test"));
    assert_eq!(status, 200);
    assert!(body.lines().any(|l| l == "testing"), "{body}");
    // Followed over server-sent events: every line, then the end with the job's status.
    let (status, events) = http(
        &fleet.url,
        "GET",
        &format!("/api/v1/runs/{run}/logs/build/follow"),
        Some(ADMIN),
        "",
    );
    assert_eq!(status, 200, "{events}");
    let data: Vec<&str> = events
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .collect();
    assert_eq!(data.len(), build.lines().count() + 1, "{events}");
    assert!(data.contains(&"line-3"), "{events}");
    assert!(events.contains("event: end\ndata: success"), "{events}");
    let (status, metrics) = http(&fleet.url, "GET", "/metrics", None, "");
    assert_eq!(status, 200);
    assert!(
        metrics.lines().any(|l| l == "railyard_agents 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("railyard_jobs{"),
        "no job is left in the queue: {metrics}"
    );
    assert_nothing_left(&run);
}

#[test]
fn a_killed_agents_job_finishes_on_another_agent() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  slow:\n    script:\n      - echo started\n      - sleep 8\n      - echo finished\n",
    );
    let first = fleet.agent("first");
    let run = trigger(&fleet);
    // Wait until the first agent is inside the `sleep`.
    fleet.wait_for_log(&run, "slow", "$ sleep 8");
    fleet.agent("second");
    fleet.agents[first].kill().unwrap(); // SIGKILL
    let _ = fleet.agents[first].wait();
    let detail = fleet.wait_run(&run, 240);
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    let log = std::fs::read_to_string(fleet.log_path(&run, "slow")).unwrap();
    assert!(log.contains("attempt 2"), "{log}");
    assert_eq!(log.lines().filter(|l| *l == "started").count(), 2, "{log}");
    assert_eq!(log.lines().filter(|l| *l == "finished").count(), 1, "{log}");
    assert_nothing_left(&run);
}

#[test]
fn bad_tokens_get_401() {
    let mut fleet = Fleet::start("env: { image: busybox }\njobs:\n  a:\n    script: [echo a]\n");
    let out = output_within(
        fleet.cli(&["project", "add", "demo", "--repo", "x", "--token", "wrong"]),
        30,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    for (path, token) in [
        ("/api/v1/projects", None),
        ("/api/v1/projects", Some(AGENT)),
        ("/api/v1/agents/claim", Some(ADMIN)),
        ("/api/v1/agents/register", Some("nope")),
    ] {
        let (status, body) = http(&fleet.url, "POST", path, token, "{}");
        assert_eq!(status, 401, "{path} {token:?}: {body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    // An agent with the wrong token stops at once and says why.
    let out = output_within(
        {
            let mut cmd = bin();
            cmd.args(["agent", "--server", &fleet.url, "--token", "wrong"]);
            cmd
        },
        30,
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
    fleet.agents.clear();
}

#[test]
fn push_webhooks_are_verified_and_start_runs() {
    let mut fleet =
        Fleet::start("env: { image: busybox }\njobs:\n  hook:\n    script: [echo from a push]\n");
    let out = output_within(
        fleet.cli(&[
            "project",
            "add",
            "demo",
            "--repo",
            &fleet.repo_url(),
            "--webhook-secret",
            "s3cret",
        ]),
        30,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let head = Command::new("git")
        .args([
            "--git-dir",
            &fleet.dir.path().join("repo.git").display().to_string(),
            "rev-parse",
            "main",
        ])
        .output()
        .unwrap();
    let commit = text(&head.stdout).trim().to_string();
    let push = format!(r#"{{"ref":"refs/heads/main","after":"{commit}"}}"#);
    let hook = |project: &str, header: Option<(&str, &str)>, body: &str| {
        let addr = fleet.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let extra = header
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "POST /api/v1/projects/{project}/webhook HTTP/1.1\r\nHost: {addr}\r\n{extra}X-Gitlab-Event: Push Hook\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status: u16 = response.split(' ').nth(1).unwrap().parse().unwrap();
        (status, response)
    };
    let good = Some(("X-Gitlab-Token", "s3cret"));
    for (project, header, body, expected) in [
        ("demo", None, push.as_str(), 401),
        (
            "demo",
            Some(("X-Gitlab-Token", "wrong")),
            push.as_str(),
            401,
        ),
        (
            "demo",
            Some(("X-Hub-Signature-256", "sha256=00")),
            push.as_str(),
            401,
        ),
        ("nope", good, push.as_str(), 401),
        ("demo", good, "not json", 400),
        ("demo", good, r#"{"ref":"refs/heads/main"}"#, 400),
        ("demo", good, r#"{"after":"; rm -rf /"}"#, 400),
    ] {
        let (status, response) = hook(project, header, body);
        assert_eq!(status, expected, "{project} {header:?} {body}: {response}");
    }
    let (_, runs) = fleet.get("/api/v1/runs");
    assert_eq!(runs.trim(), "[]", "refused deliveries queued nothing");

    let (status, response) = hook("demo", good, &push);
    assert_eq!(status, 201, "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    let answer: serde_json::Value = serde_json::from_str(body).unwrap();
    let run = answer["run"]["id"].as_str().unwrap().to_string();
    assert_eq!(answer["run"]["commit"], commit.as_str());
    fleet.agent("hooked");
    let detail = fleet.wait_run(&run, 240);
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    assert_nothing_left(&run);
}

#[test]
fn a_server_restart_mid_run_loses_nothing() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  slow:\n    script:\n      - echo before\n      - sleep 4\n      - echo after\n  next:\n    needs: [slow]\n    script: [echo next]\n",
    );
    fleet.agent("steady");
    let run = trigger(&fleet);
    fleet.wait_for_log(&run, "slow", "$ sleep 4");
    fleet.restart_server(None);
    let detail = fleet.wait_run(&run, 240);
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    let log = std::fs::read_to_string(fleet.log_path(&run, "slow")).unwrap();
    for line in ["before", "after"] {
        assert_eq!(log.lines().filter(|l| *l == line).count(), 1, "{log}");
    }
    let next = std::fs::read_to_string(fleet.log_path(&run, "next")).unwrap();
    assert!(next.lines().any(|l| l == "next"), "{next}");
    assert_nothing_left(&run);
}

#[test]
fn cancel_reaches_the_agent_and_ends_the_run() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  long:\n    script: [echo waiting, sleep 60]\n  after:\n    needs: [long]\n    script: [echo never]\n",
    );
    fleet.agent("busy");
    let run = trigger(&fleet);
    fleet.wait_for_log(&run, "long", "$ sleep 60");
    let asked = Instant::now();
    let (status, body) = http(
        &fleet.url,
        "POST",
        &format!("/api/v1/runs/{run}/cancel"),
        Some(ADMIN),
        "",
    );
    assert_eq!(status, 202, "{body}");
    let detail = fleet.wait_run(&run, 60);
    let took = asked.elapsed();
    assert_eq!(
        detail["run"]["status"],
        "cancelled",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    // Heartbeats come every second; the rest is stopping the step and removing the container.
    assert!(took < Duration::from_secs(15), "the cancel took {took:?}");
    let jobs = detail["jobs"].as_array().unwrap();
    assert!(jobs.iter().all(|j| j["status"] == "cancelled"), "{detail}");
    let (status, _) = http(
        &fleet.url,
        "POST",
        &format!("/api/v1/runs/{run}/cancel"),
        Some(ADMIN),
        "",
    );
    assert_eq!(status, 409, "a finished run cannot be cancelled again");
    assert_nothing_left(&run);
}

#[test]
fn a_terminated_agent_drains_its_job() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  held:\n    script: [echo held, sleep 3, echo kept]\n",
    );
    let agent = fleet.agent("draining");
    let run = trigger(&fleet);
    fleet.wait_for_log(&run, "held", "$ sleep 3");
    let pid = fleet.agents[agent].id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let detail = fleet.wait_run(&run, 120);
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = fleet.agents[agent].try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the agent did not exit after draining"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status:?}\n{}", fleet.diagnostics());
    let log = std::fs::read_to_string(fleet.log_path(&run, "held")).unwrap();
    assert_eq!(log.lines().filter(|l| *l == "kept").count(), 1, "{log}");
    assert_nothing_left(&run);
}
