//! The server is gone (killed) for longer than the agent's retries once lasted (30 tries a
//! second apart) while a job ends: the job is not run again, its result and its whole log
//! arrive once the server is back, and the agent holds the waiting log on disk, not in
//! memory. The agent talks to the server through a loopback proxy that stops at a chosen
//! request so the test kills the server at a known moment.

use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::fleet::*;
use crate::proxy::{self, Gate, Stops, Verdict, Watch, contains};

/// How long the server stays dead once the job has ended: past the old 30 s of retries.
const AWAY: Duration = Duration::from_secs(35);

/// Lines of `line-NNNNNNNN xxx…` (101 bytes each): 50 MiB.
const LINES: usize = 520_000;

#[test]
fn a_job_printing_50_mib_while_the_server_is_away_keeps_its_attempt_its_log_and_the_agents_memory()
{
    let script = format!(
        "env: {{ image: busybox }}\njobs:\n  chatty:\n    script:\n      - |\n        awk 'BEGIN {{ for (i = 1; i <= {LINES}; i++) printf \"line-%08d %086d\\n\", i, 0 }}'\n"
    );
    let mut fleet = Fleet::start(&script);
    let (proxy, stops) = start_proxy(&fleet, Stop::ClaimAnswer);
    let agent = proxied_agent(&mut fleet, &proxy);
    let run = trigger(&fleet);
    // The job is leased: the server dies before its agent hears so.
    let (what, resume) = stops.wait(&fleet);
    assert_eq!(what, "claim answer");
    let before = peak_memory_kib(&fleet.agents[agent]);
    kill_server(&mut fleet);
    resume.send(()).unwrap();
    wait_for_agent(&fleet, "job ended");
    std::thread::sleep(AWAY);
    let after_job = peak_memory_kib(&fleet.agents[agent]);
    restart_server(&mut fleet);
    fleet.wait_success(&run, 300);
    let after = peak_memory_kib(&fleet.agents[agent]);
    eprintln!(
        "agent VmHWM: {before} KiB before the job, {after_job} KiB once it ended, {after} KiB once its log was sent"
    );
    // 50 MiB went through the agent while no server took it: it kept 1 MiB of it in memory
    // (the rest on disk), plus what the runner's events hold on their way (the agent held
    // all of it, 137 MiB more at its peak, before the log had a spool).
    assert!(
        after < before + 40 * 1024,
        "the agent's peak memory grew from {before} KiB to {after} KiB\n{}",
        fleet.diagnostics()
    );
    let agent_log = agent_log(&fleet);
    assert!(
        agent_log.contains("until it does"),
        "never spooled: {agent_log}"
    );
    assert!(agent_log.contains("sending log chunk"), "{agent_log}");
    ran_once(&agent_log);

    // Every line once, in order.
    let (status, log) = fleet.get(&format!("/api/v1/runs/{run}/logs/chatty"));
    assert_eq!(status, 200, "{log}");
    assert!(!log.contains("[railyard: attempt"), "the job ran again");
    let mut next = 1;
    for line in log.lines().filter(|l| l.starts_with("line-")) {
        let expected = format!("line-{next:08} {:086}", 0);
        assert!(line == expected, "line {next}: got {line:?}");
        next += 1;
    }
    assert_eq!(next - 1, LINES, "lines in the log");
    assert_nothing_left(&run);
}

#[test]
fn a_result_sent_while_the_server_is_away_arrives_once_it_is_back() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\njobs:\n  build:\n    script: [echo built]\n  next:\n    needs: [build]\n    script: [echo next]\n",
    );
    let (proxy, stops) = start_proxy(&fleet, Stop::Report);
    proxied_agent(&mut fleet, &proxy);
    let run = trigger(&fleet);
    // The first report never reaches the server, which dies and stays dead past 30 s.
    let (what, resume) = stops.wait(&fleet);
    assert_eq!(what, "report");
    kill_server(&mut fleet);
    resume.send(()).unwrap();
    std::thread::sleep(AWAY);
    restart_server(&mut fleet);
    let detail = fleet.wait_success(&run, 180);
    assert_eq!(detail["jobs"].as_array().unwrap().len(), 2, "{detail}");
    let agent_log = agent_log(&fleet);
    assert!(
        agent_log.contains("reporting job build: cannot talk to the server"),
        "{agent_log}"
    );
    // The agent kept trying past the 30 s it once gave up after.
    let longest = agent_log
        .split("no answer for ")
        .skip(1)
        .filter_map(|rest| rest.split(' ').next()?.parse::<u64>().ok())
        .max();
    assert!(longest >= Some(30), "{longest:?}: {agent_log}");
    ran_once(&agent_log);
    assert_nothing_left(&run);
}

/// The only agent claimed `build`/`chatty` once, as attempt 1: nothing was handed on.
fn ran_once(agent_log: &str) {
    let claims: Vec<&str> = agent_log
        .lines()
        .filter(|l| l.contains("job claimed"))
        .collect();
    let first = claims.first().expect("a claim");
    assert!(first.contains("attempt=1"), "{agent_log}");
    assert!(
        claims.iter().all(|l| !l.contains("attempt=2")),
        "the job ran again: {agent_log}"
    );
}

fn proxied_agent(fleet: &mut Fleet, proxy: &str) -> usize {
    let agent = bin()
        .args(["agent", "--server", proxy, "--token", AGENT])
        .args(["--slots", "1", "--name", "patient"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(fleet.dir.path().join("patient.err")).unwrap())
        .spawn()
        .unwrap();
    fleet.agents.push(agent);
    fleet.agents.len() - 1
}

fn agent_log(fleet: &Fleet) -> String {
    std::fs::read_to_string(fleet.dir.path().join("patient.err")).unwrap()
}

fn wait_for_agent(fleet: &Fleet, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while !agent_log(fleet).contains(needle) {
        assert!(
            Instant::now() < deadline,
            "the agent never logged {needle:?}\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn kill_server(fleet: &mut Fleet) {
    fleet.server.kill().unwrap();
    fleet.server.wait().unwrap();
}

/// Starts the server again on its address and data (it gives held leases a whole lease).
fn restart_server(fleet: &mut Fleet) {
    let addr = fleet.url.trim_start_matches("http://").to_string();
    let (server, url) = spawn_server(fleet.dir.path(), &addr, None);
    assert_eq!(url, fleet.url);
    fleet.server = server;
}

/// The process's peak resident memory (`VmHWM`), in KiB.
fn peak_memory_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"))
}

/// Where the proxy stops once.
#[derive(Clone, Copy)]
enum Stop {
    /// The server's answer to a claim that leased a job, held until the test says go.
    ClaimAnswer,
    /// The agent's first `complete` request, never forwarded; the agent's connection is cut
    /// when the test says go.
    Report,
}

/// The proxy's watch: stops once at `stop`.
struct StopOnce {
    stop: Stop,
    stopped: AtomicBool,
    gate: Gate,
}

impl StopOnce {
    /// Stops (once): tells the test and waits for its go-ahead. False if already stopped.
    fn stop_once(&self, what: &'static str) -> bool {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.gate.stop(what);
        true
    }
}

/// Whether the connection's last request was a claim.
#[derive(Default)]
struct Claiming(AtomicBool);

impl Watch for StopOnce {
    type Conn = Claiming;

    /// Notes claims; stops at the first report and cuts it.
    fn to_server(&self, claiming: &Claiming, bytes: &[u8]) -> Verdict {
        if bytes.starts_with(b"POST ") {
            claiming.0.store(
                contains(bytes, b"POST /api/v1/agents/claim "),
                Ordering::SeqCst,
            );
        }
        if matches!(self.stop, Stop::Report)
            && contains(bytes, b"/complete HTTP/1.1")
            && self.stop_once("report")
        {
            return Verdict::Cut;
        }
        Verdict::Forward
    }

    /// Holds the first answer that leases a job until the test says go.
    fn to_client(&self, claiming: &Claiming, bytes: &[u8]) -> Verdict {
        if matches!(self.stop, Stop::ClaimAnswer)
            && claiming.0.load(Ordering::SeqCst)
            && contains(bytes, b"\"job_id\"")
        {
            self.stop_once("claim answer");
        }
        Verdict::Forward
    }
}

/// A proxy in front of the fleet's server that stops once at `stop`; its URL and the test's
/// side of its gate.
fn start_proxy(fleet: &Fleet, stop: Stop) -> (String, Stops) {
    let (gate, stops) = Gate::new();
    let watch = StopOnce {
        stop,
        stopped: AtomicBool::new(false),
        gate,
    };
    (proxy::start(&fleet.url, Arc::new(watch)), stops)
}
