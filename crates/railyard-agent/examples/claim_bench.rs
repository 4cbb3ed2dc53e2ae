//! The claim benchmark of `bench/server` (see its README): a real `railyard server` process,
//! a queue filled through the API, and simulated agents over HTTP that claim a job and
//! complete it at once. Prints claims per second, claim latency percentiles and the server's
//! memory (from `/proc/PID/status`).
//!
//! Two modes, because with zero think time a closed loop obeys Little's law (agents =
//! throughput × cycle time: 200 agents at 1,000 claims/s spend 200 ms a cycle whatever the
//! server does), so its latency says nothing about the server at a given load:
//! - `--rate 0` (closed loop): every agent claims again as soon as its last job is completed;
//!   the figure is the most claims per second the server sustains.
//! - `--rate R`: the agents together offer R claims per second (each its share, on its own
//!   schedule); the figure is the latency at that load, and whether the server kept up.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use railyard_agent::Client;
use railyard_types::JobStatus;
use railyard_types::api;
use railyard_types::protocol::{
    ClaimRequest, Completion, NewProject, RegisterRequest, TriggerRequest,
};

const ADMIN: &str = "bench-admin";
const AGENT: &str = "bench-agent";
/// The goal.
const GOAL_RATE: f64 = 1000.0;
const GOAL_P99_MS: f64 = 50.0;

struct Args {
    railyard: PathBuf,
    database: Option<String>,
    agents: usize,
    jobs: usize,
    run_size: usize,
    projects: usize,
    secs: f64,
    rate: f64,
    /// `--tls-cert`, `--tls-key` and `--ca-cert`: the server serves HTTPS, the agents trust
    /// the CA (the cost of TLS on the claim path).
    tls: Option<[PathBuf; 3]>,
}

/// What every client trusts (set once in `main`).
static TRUST: std::sync::OnceLock<railyard_agent::Trust> = std::sync::OnceLock::new();

fn client(url: &str, token: &str) -> Client {
    let trust = TRUST.get_or_init(Default::default);
    Client::with_trust(url, token, railyard_agent::client::CALL_TIMEOUT, trust)
}

fn args() -> Args {
    let mut a = Args {
        railyard: "target/release/railyard".into(),
        database: None,
        agents: 200,
        jobs: 20_000,
        run_size: 50,
        projects: 4,
        secs: 15.0,
        rate: 0.0,
        tls: None,
    };
    let mut tls: [Option<PathBuf>; 3] = Default::default();
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let num = |v: String| -> f64 { v.parse().unwrap_or_else(|_| panic!("{v}: not a number")) };
        match flag.as_str() {
            "--railyard" => a.railyard = value().into(),
            "--database" => a.database = Some(value()),
            "--agents" => a.agents = num(value()) as usize,
            "--jobs" => a.jobs = num(value()) as usize,
            "--run-size" => a.run_size = num(value()) as usize,
            "--projects" => a.projects = num(value()) as usize,
            "--secs" => a.secs = num(value()),
            "--rate" => a.rate = num(value()),
            "--tls-cert" => tls[0] = Some(value().into()),
            "--tls-key" => tls[1] = Some(value().into()),
            "--ca-cert" => tls[2] = Some(value().into()),
            _ => panic!(
                "unknown flag {flag}; flags: --railyard PATH --database URL --agents N --jobs N \
                 --run-size N --projects N --secs S --rate CLAIMS_PER_SEC (0: closed loop) \
                 [--tls-cert PEM --tls-key PEM --ca-cert PEM]"
            ),
        }
    }
    if let [Some(cert), Some(key), Some(ca)] = tls {
        a.tls = Some([cert, key, ca]);
    }
    a
}

/// A field of `/proc/PID/status` in MiB (VmRSS: now; VmHWM: the peak so far).
fn memory_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {:?}", out);
}

/// A bare repository whose pipeline has `jobs` independent jobs.
fn repository(dir: &Path, jobs: usize) -> String {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(dir, &["init", "-q", "--bare", "-b", "main", "repo.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    let mut pipeline = String::from("env: { image: busybox }\njobs:\n");
    for i in 0..jobs {
        pipeline.push_str(&format!("  j{i}: {{ script: [\"true\"] }}\n"));
    }
    std::fs::write(work.join(".railyard.yml"), pipeline).unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "bench"]);
    git(&work, &["push", "-q", "../repo.git", "main"]);
    format!("file://{}", dir.join("repo.git").display())
}

/// Starts the server on port 0; returns it and its URL.
fn server(a: &Args, dir: &Path) -> (Child, String) {
    let mut cmd = Command::new(&a.railyard);
    cmd.args(["server", "--listen", "127.0.0.1:0", "--admin-token", ADMIN])
        .args(["--agent-token", AGENT])
        .env("RAILYARD_HOME", dir.join("data"))
        .env(
            "RAILYARD_LOG",
            std::env::var("RAILYARD_LOG").unwrap_or("warn".into()),
        )
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("server.err")).unwrap());
    if let Some(url) = &a.database {
        cmd.args(["--database", url]);
    }
    if let Some([cert, key, _]) = &a.tls {
        cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
    }
    let mut child = cmd.spawn().expect("the railyard binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        url.starts_with("http"),
        "the server did not start: {line}{}",
        std::fs::read_to_string(dir.join("server.err")).unwrap_or_default()
    );
    (child, url)
}

/// Adds the projects and triggers runs until `jobs` jobs are queued, four triggers at a time.
async fn fill(url: &str, repo: &str, a: &Args) -> usize {
    let admin = client(url, ADMIN);
    for p in 0..a.projects {
        let project = NewProject {
            name: format!("p{p}").into(),
            repo: repo.to_string(),
            webhook_secret: None,
            share: Default::default(),
        };
        admin
            .call::<api::AddProject>(&(), &project)
            .await
            .expect("adding a project");
    }
    let runs = a.jobs.div_ceil(a.run_size);
    // Each project's first trigger alone: the first fetches of one mirror, made at once,
    // collide in git (`initial ref transaction called with existing refs`, issue 14).
    let warm = a.projects.min(runs);
    let mut queued = 0;
    for p in 0..warm {
        let main = TriggerRequest {
            git_ref: Some("main".into()),
        };
        let t = admin
            .call::<api::Trigger>(&format!("p{p}").into(), &main)
            .await
            .expect("triggering a run");
        queued += t.jobs.len();
    }
    let next = Arc::new(AtomicU64::new(warm as u64));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (admin, next, projects) = (admin.clone(), next.clone(), a.projects as u64);
        tasks.push(tokio::spawn(async move {
            let mut queued = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= runs as u64 {
                    return queued;
                }
                let project = format!("p{}", i % projects).into();
                let main = TriggerRequest {
                    git_ref: Some("main".into()),
                };
                let t = admin
                    .call::<api::Trigger>(&project, &main)
                    .await
                    .expect("triggering a run");
                queued += t.jobs.len();
            }
        }));
    }
    for t in tasks {
        queued += t.await.unwrap();
    }
    queued
}

/// What one simulated agent saw.
#[derive(Default)]
struct Seen {
    claim_us: Vec<u64>,
    complete_us: Vec<u64>,
    job_ids: Vec<String>,
    errors: Vec<String>,
    late: u64,
}

/// Registers, then claims and completes until `stop` (set at the deadline or when the queue
/// is empty). With a period, each claim waits for its slot in the agent's schedule.
async fn agent(
    url: String,
    n: usize,
    start: Instant,
    period: Option<Duration>,
    stop: Arc<AtomicBool>,
) -> Seen {
    let client = client(&url, AGENT);
    let mut seen = Seen::default();
    let me = RegisterRequest {
        name: format!("a{n}"),
        slots: 1,
        labels: Vec::new(),
    };
    let reg = client
        .call::<api::Register>(&(), &me)
        .await
        .expect("registering");
    let id = reg.agent_id;
    // Spread the agents' schedules over one period, so the offered load is even.
    let mut next = start + period.map_or(Duration::ZERO, |p| p.mul_f64(n as f64 / 997.0 % 1.0));
    tokio::time::sleep_until(start.into()).await;
    while !stop.load(Ordering::Relaxed) {
        if let Some(p) = period {
            let now = Instant::now();
            if next > now {
                tokio::time::sleep_until(next.into()).await;
            } else if now - next > p {
                seen.late += 1;
            }
            next += p;
        }
        let t = Instant::now();
        let request = ClaimRequest {
            agent_id: id.clone(),
            wait_ms: Some(0),
        };
        let claim = client.call::<api::ClaimJob>(&(), &request).await;
        let claimed_us = t.elapsed().as_micros() as u64;
        let job = match claim {
            Ok(Some(job)) => job,
            Ok(None) => {
                stop.store(true, Ordering::Relaxed);
                break;
            }
            Err(e) => {
                seen.errors.push(format!("claim: {e}"));
                continue;
            }
        };
        seen.claim_us.push(claimed_us);
        let body = Completion {
            agent_id: id.clone(),
            attempt: job.attempt,
            status: JobStatus::Success,
            error: None,
            steps: Vec::new(),
            timings: Vec::new(),
            env_image: None,
            image: None,
        };
        let t = Instant::now();
        let done = client.call::<api::Complete>(&job.job_id, &body).await;
        match done {
            Ok(_) => seen.complete_us.push(t.elapsed().as_micros() as u64),
            Err(e) => seen.errors.push(format!("complete: {e}")),
        }
        seen.job_ids.push(job.job_id.into_string());
    }
    seen
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    let a = args();
    if let Some([_, _, ca]) = &a.tls {
        let trust = railyard_agent::Trust::ca_file(ca).expect("the CA file");
        TRUST.set(trust).expect("set once");
    }
    let dir = tempfile::tempdir().unwrap();
    let repo = repository(dir.path(), a.run_size);
    let (mut child, url) = server(&a, dir.path());
    let pid = child.id();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = memory_mib(pid, "VmRSS");
    let t = Instant::now();
    let queued = fill(&url, &repo, &a).await;
    let fill_secs = t.elapsed().as_secs_f64();
    let filled = memory_mib(pid, "VmRSS");

    // Every agent registers first; the clock starts for all at once.
    let start = Instant::now() + Duration::from_secs(1);
    let period = (a.rate > 0.0).then(|| Duration::from_secs_f64(a.agents as f64 / a.rate));
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..a.agents)
        .map(|n| tokio::spawn(agent(url.clone(), n, start, period, stop.clone())))
        .collect();
    let sampler = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut peak = 0f64;
            while !stop.load(Ordering::Relaxed) {
                peak = peak.max(memory_mib(pid, "VmRSS"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            peak
        })
    };
    tokio::time::sleep_until((start + Duration::from_secs_f64(a.secs)).into()).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Seen::default();
    for t in tasks {
        let s = t.await.unwrap();
        all.claim_us.extend(s.claim_us);
        all.complete_us.extend(s.complete_us);
        all.job_ids.extend(s.job_ids);
        all.errors.extend(s.errors);
        all.late += s.late;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let load_rss = sampler.await.unwrap();
    let hwm = memory_mib(pid, "VmHWM");
    let _ = child.kill();
    let _ = child.wait();

    let claims = all.claim_us.len();
    all.claim_us.sort_unstable();
    all.complete_us.sort_unstable();
    let ids = all.job_ids.len();
    all.job_ids.sort_unstable();
    all.job_ids.dedup();
    let rate = claims as f64 / elapsed;
    let p99 = pct(&all.claim_us, 0.99);
    let backend = if a.database.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mode = match period {
        None => "closed loop (claim, complete, claim again at once)".to_string(),
        Some(_) => format!("offered {:.0} claims/s in all", a.rate),
    };
    println!(
        "\n{backend}: {} agents over {}, {mode}; {queued} jobs queued in {fill_secs:.1} s \
         ({} projects, runs of {})",
        a.agents,
        if a.tls.is_some() { "HTTPS" } else { "HTTP" },
        a.projects,
        a.run_size
    );
    println!("  claims          {claims} in {elapsed:.1} s = {rate:.0} claims/s");
    println!(
        "  claim latency   p50 {:.1} ms  p90 {:.1} ms  p99 {p99:.1} ms  max {:.1} ms",
        pct(&all.claim_us, 0.5),
        pct(&all.claim_us, 0.9),
        pct(&all.claim_us, 1.0)
    );
    println!(
        "  complete        p50 {:.1} ms  p99 {:.1} ms",
        pct(&all.complete_us, 0.5),
        pct(&all.complete_us, 0.99)
    );
    println!(
        "  server memory   idle {idle:.1} MiB, filled {filled:.1} MiB, under load {load_rss:.1} MiB (VmRSS peak of 200 ms samples), VmHWM {hwm:.1} MiB"
    );
    if period.is_some() {
        println!(
            "  claims more than one period behind schedule: {} of {claims}",
            all.late
        );
    }
    println!(
        "  against the goal: claims/s / {GOAL_RATE:.0} = {:.2}; p99 / {GOAL_P99_MS:.0} ms = {:.2} (goal: >= 1 and <= 1)",
        rate / GOAL_RATE,
        p99 / GOAL_P99_MS
    );
    if ids != all.job_ids.len() {
        println!(
            "  ERROR: {} job(s) handed out twice",
            ids - all.job_ids.len()
        );
    }
    if !all.errors.is_empty() {
        println!(
            "  ERRORS: {} failed requests, first: {}",
            all.errors.len(),
            all.errors[0]
        );
    }
    if claims == queued {
        println!("  (the queue ran dry before the deadline: queue more with --jobs)");
    }
}
