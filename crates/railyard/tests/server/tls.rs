//! HTTPS between server, agent and CLI with a CA made at test time; certificates read again
//! on SIGHUP; tokens from files; PostgreSQL URLs with `sslmode`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::fleet::*;

const PIPELINE: &str = "env: { image: busybox }\njobs:\n  hello:\n    script: [echo over-tls]\n";

/// A CA and a server certificate it issued for 127.0.0.1 and localhost, as PEM files.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    /// Makes a CA named `name` and its server certificate, written under `dir` as
    /// `<name>-ca.pem`, `<name>-cert.pem` and `<name>-key.pem`.
    fn make(dir: &Path, name: &str) -> Pki {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
        };
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("Railyard test CA {name}"));
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "railyard test server");
        let cert = params.signed_by(&key, &issuer).unwrap();
        let pki = Pki {
            ca: dir.join(format!("{name}-ca.pem")),
            cert: dir.join(format!("{name}-cert.pem")),
            key: dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&pki.ca, ca_cert.pem()).unwrap();
        std::fs::write(&pki.cert, cert.pem()).unwrap();
        std::fs::write(&pki.key, key.serialize_pem()).unwrap();
        pki
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// A fleet whose server serves HTTPS with `pki`'s certificate (served from `cert.pem` and
/// `key.pem` in the fleet's folder, so a test may replace them) and reads its tokens from
/// files; no agent yet.
fn tls_fleet(pki: &Pki) -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(
        dir.path(),
        &["init", "-q", "--bare", "--initial-branch=main", "repo.git"],
    );
    git(&work, &["init", "-q", "--initial-branch=main"]);
    std::fs::write(work.join(".railyard.yml"), PIPELINE).unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "pipeline"]);
    git(&work, &["push", "-q", "../repo.git", "main"]);
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    std::fs::copy(&pki.cert, &cert).unwrap();
    std::fs::copy(&pki.key, &key).unwrap();
    let admin_file = dir.path().join("admin.token");
    let agent_file = dir.path().join("agent.token");
    std::fs::write(&admin_file, format!("{ADMIN}\n")).unwrap();
    std::fs::write(&agent_file, format!("{AGENT}\n")).unwrap();
    let mut cmd = bin();
    cmd.args(["server", "--listen", "127.0.0.1:0", "--lease-secs", "3"])
        .args(["--admin-token-file", s(&admin_file)])
        .args(["--agent-token-file", s(&agent_file)])
        .args(["--tls-cert", s(&cert), "--tls-key", s(&key)])
        .env("RAILYARD_HOME", dir.path().join("data"))
        .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap());
    let (server, url) = start_reading_url(&mut cmd, "https://127.0.0.1:");
    Fleet {
        dir,
        server,
        url,
        agents: Vec::new(),
    }
}

/// Spawns a server and reads the address it prints, which must start with `prefix`.
fn start_reading_url(cmd: &mut Command, prefix: &str) -> (Child, String) {
    use std::io::{BufRead, BufReader};
    let mut server = cmd.stdout(Stdio::piped()).spawn().unwrap();
    let stdout = server.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(url.starts_with(prefix), "printed [{line}]");
    (server, url)
}

/// GET `path` with the admin token over a fresh connection trusting only `ca`: (status,
/// body), or the error's whole chain.
fn https_get(url: &str, path: &str, ca: &Path) -> Result<(u16, String), String> {
    railyard_server::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let roots = reqwest::Certificate::from_pem_bundle(&std::fs::read(ca).unwrap()).unwrap();
        let client = reqwest::Client::builder()
            .tls_certs_only(roots)
            .build()
            .unwrap();
        let chain = |e: reqwest::Error| railyard_types::error::Chain(&e).to_string();
        let answer = client
            .get(format!("{url}{path}"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .map_err(chain)?;
        let status = answer.status().as_u16();
        Ok((status, answer.text().await.map_err(chain)?))
    })
}

#[test]
fn https_end_to_end_between_server_agent_and_cli_with_a_test_ca() {
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = Pki::make(pki_dir.path(), "one");
    let mut fleet = tls_fleet(&pki);
    // The agent reads its token from a file and trusts the test CA.
    let agent_token = fleet.dir.path().join("agent-own.token");
    std::fs::write(&agent_token, format!("{AGENT}\n")).unwrap();
    let agent = bin()
        .env("RAILYARD_HOME", fleet.agent_home("a1"))
        .args(["agent", "--server", &fleet.url, "--name", "a1"])
        .args(["--token-file", s(&agent_token), "--ca-cert", s(&pki.ca)])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(fleet.dir.path().join("a1.err")).unwrap())
        .spawn()
        .unwrap();
    fleet.agents.push(agent);
    // The CLI over HTTPS: the CA from the environment, the token from a file.
    let cli = |args: &[&str]| {
        let mut cmd = fleet.cli(args);
        cmd.env_remove("RAILYARD_TOKEN")
            .env("RAILYARD_TOKEN_FILE", fleet.dir.path().join("admin.token"))
            .env("RAILYARD_CA_CERT", &pki.ca);
        let out = output_within(cmd, 60);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            text(&out.stderr),
            fleet.diagnostics()
        );
        text(&out.stdout)
    };
    cli(&["project", "add", "demo", "--repo", &fleet.repo_url()]);
    let triggered: serde_json::Value =
        serde_json::from_str(&cli(&["trigger", "demo", "--ref", "main", "--json"])).unwrap();
    let run = triggered["run"]["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(240);
    let detail = loop {
        let (status, body) = https_get(&fleet.url, &format!("/api/v1/runs/{run}"), &pki.ca)
            .unwrap_or_else(|e| panic!("{e}\n{}", fleet.diagnostics()));
        assert_eq!(status, 200, "{body}");
        let detail: serde_json::Value = serde_json::from_str(&body).unwrap();
        if !detail["run"]["finished_at"].is_null() {
            break detail;
        }
        assert!(
            Instant::now() < deadline,
            "run still going: {body}\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(
        detail["run"]["status"],
        "success",
        "{detail}\n{}",
        fleet.diagnostics()
    );
    let log = cli(&["logs", &run, "hello"]);
    assert!(log.lines().any(|l| l == "over-tls"), "{log}");

    // A client without the CA is refused with a certificate error saying what to pass.
    let mut cmd = fleet.cli(&["project", "list"]);
    cmd.env_remove("RAILYARD_CA_CERT");
    let out = output_within(cmd, 60);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("TLS certificate this client does not trust") && err.contains("--ca-cert"),
        "{err}"
    );
    // An agent without the CA stops at once saying what to pass (a server away is waited for).
    let mut cmd = bin();
    cmd.env("RAILYARD_HOME", fleet.agent_home("a2"))
        .args(["agent", "--server", &fleet.url, "--token", AGENT]);
    let out = output_within(cmd, 60);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("TLS certificate this client does not trust") && err.contains("--ca-cert"),
        "{err}"
    );
    // Plain HTTP to the HTTPS port gets no HTTP answer (a TLS alert, or nothing).
    {
        use std::io::{Read, Write};
        let mut plain =
            std::net::TcpStream::connect(fleet.url.trim_start_matches("https://")).unwrap();
        plain
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        plain
            .write_all(b"GET /api/v1/projects HTTP/1.1\r\nhost: x\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        let _ = plain.read_to_end(&mut answer);
        assert!(!answer.starts_with(b"HTTP/"), "{}", text(&answer));
    }
    fleet.agents.iter_mut().for_each(|a| {
        let _ = a.kill();
        let _ = a.wait();
    });
    assert_nothing_left(&run);
}

#[test]
fn sighup_reloads_the_certificate_and_a_bad_reload_keeps_the_old_one() {
    let pki_dir = tempfile::tempdir().unwrap();
    let one = Pki::make(pki_dir.path(), "one");
    let two = Pki::make(pki_dir.path(), "two");
    let fleet = tls_fleet(&one);
    assert_eq!(
        https_get(&fleet.url, "/api/v1/projects", &one.ca)
            .unwrap()
            .0,
        200
    );
    let e = https_get(&fleet.url, "/api/v1/projects", &two.ca).unwrap_err();
    assert!(e.contains("certificate"), "{e}");
    let hup = || {
        let status = Command::new("kill")
            .args(["-HUP", &fleet.server.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    };
    let served_cert = fleet.dir.path().join("cert.pem");
    let served_key = fleet.dir.path().join("key.pem");
    std::fs::copy(&two.cert, &served_cert).unwrap();
    std::fs::copy(&two.key, &served_key).unwrap();
    hup();
    let deadline = Instant::now() + Duration::from_secs(30);
    while https_get(&fleet.url, "/api/v1/projects", &two.ca).is_err() {
        assert!(
            Instant::now() < deadline,
            "never reloaded\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let e = https_get(&fleet.url, "/api/v1/projects", &one.ca).unwrap_err();
    assert!(e.contains("certificate"), "the old CA still works: {e}");

    // A renewal gone wrong (a key that does not fit): the log says so, the pair in use stays.
    std::fs::copy(&one.key, &served_key).unwrap();
    hup();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fleet.diagnostics().contains("TLS certificate not reloaded") {
        assert!(
            Instant::now() < deadline,
            "no failed reload logged\n{}",
            fleet.diagnostics()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        fleet
            .diagnostics()
            .contains("does not go with the certificate"),
        "{}",
        fleet.diagnostics()
    );
    assert_eq!(
        https_get(&fleet.url, "/api/v1/projects", &two.ca)
            .unwrap()
            .0,
        200
    );
}

#[test]
fn bad_tls_files_and_token_files_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::make(dir.path(), "one");
    let other = Pki::make(dir.path(), "other");
    let empty = dir.path().join("empty.token");
    std::fs::write(&empty, "\n").unwrap();
    let missing = dir.path().join("missing.pem");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec![
                "--admin-token",
                ADMIN,
                "--tls-cert",
                s(&missing),
                "--tls-key",
                s(&pki.key),
            ],
            vec!["missing.pem", "--tls-cert"],
        ),
        (
            vec![
                "--admin-token",
                ADMIN,
                "--tls-cert",
                s(&pki.key),
                "--tls-key",
                s(&pki.key),
            ],
            vec!["one-key.pem", "no `-----BEGIN CERTIFICATE-----`"],
        ),
        (
            vec![
                "--admin-token",
                ADMIN,
                "--tls-cert",
                s(&pki.cert),
                "--tls-key",
                s(&other.key),
            ],
            vec!["does not go with the certificate"],
        ),
        (
            vec!["--admin-token", ADMIN, "--tls-cert", s(&pki.cert)],
            vec!["--tls-key"],
        ),
        (
            vec!["--admin-token-file", s(&empty)],
            vec!["empty.token", "is empty"],
        ),
        (
            vec!["--admin-token-file", s(&missing)],
            vec!["missing.pem", "cannot read"],
        ),
        (
            vec!["--admin-token", ADMIN, "--admin-token-file", s(&pki.ca)],
            vec!["pass only one"],
        ),
    ];
    for (flags, needles) in cases {
        let mut cmd = bin();
        cmd.args(["server", "--listen", "127.0.0.1:0"])
            .args(&flags)
            .env("RAILYARD_HOME", dir.path().join("data"));
        let out = output_within(cmd, 30);
        assert!(!out.status.success(), "{flags:?} started");
        let err = text(&out.stderr);
        for needle in needles {
            assert!(err.contains(needle), "{flags:?}: no [{needle}] in {err}");
        }
    }
    // The agent and the CLI say the same of their files.
    let mut cmd = bin();
    cmd.args([
        "agent",
        "--server",
        "https://127.0.0.1:1",
        "--token-file",
        s(&empty),
    ]);
    let err = text(&output_within(cmd, 30).stderr);
    assert!(
        err.contains("empty.token") && err.contains("is empty"),
        "{err}"
    );
    let mut cmd = bin();
    cmd.args([
        "project",
        "list",
        "--server",
        "https://127.0.0.1:1",
        "--token",
        "t",
    ])
    .args(["--ca-cert", s(&empty)]);
    let err = text(&output_within(cmd, 30).stderr);
    assert!(
        err.contains("empty.token") && err.contains("holds no PEM certificate"),
        "{err}"
    );
}

/// `sslmode=require` connects to the local PostgreSQL over TLS (Debian's turns `ssl` on with
/// its snakeoil certificate); `sslmode=verify-full` refuses that certificate, which no CA we
/// trust issued, and says to give one with `sslrootcert`.
#[test]
fn postgres_sslmode_require_connects_and_verify_full_refuses_an_untrusted_certificate() {
    let Some(db) = PgDb::create() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let with = |params: &str| {
        let sep = if db.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}{params}", db.url)
    };
    let server = |url: &str| {
        let mut cmd = bin();
        cmd.args(["server", "--listen", "127.0.0.1:0", "--admin-token", ADMIN])
            .args(["--database", url])
            .env("RAILYARD_HOME", dir.path().join("data"));
        cmd
    };
    let mut cmd = server(&with("sslmode=verify-full"));
    let out = output_within(cmd, 60);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    if err.contains("does not offer TLS") {
        railyard_test_support::skip(
            "the local PostgreSQL has ssl off: no sslmode test (turn `ssl = on` in postgresql.conf)",
        );
        return;
    }
    assert!(
        err.contains("sslrootcert") && err.contains("certificate"),
        "{err}"
    );
    cmd = server(&with("sslmode=require"));
    let log = dir.path().join("server.err");
    cmd.stderr(std::fs::File::create(&log).unwrap());
    let (mut child, url) = start_printing_address(&mut cmd);
    assert!(url.starts_with("http://"));
    let _ = child.kill();
    let _ = child.wait();
}

/// Plain HTTP stays for loopback and tests; beyond it the server says at start what crosses
/// the network in the clear and how to serve HTTPS.
#[test]
fn plain_http_beyond_loopback_warns_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.err");
    let mut cmd = bin();
    cmd.args(["server", "--listen", "0.0.0.0:0", "--admin-token", ADMIN])
        .env("RAILYARD_HOME", dir.path().join("data"))
        .stderr(std::fs::File::create(&log).unwrap());
    let (mut server, _) = start_reading_url(&mut cmd, "http://0.0.0.0:");
    // The warning is written before the address is printed.
    let warned = std::fs::read_to_string(&log).unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(
        warned.contains("serving plain HTTP") && warned.contains("--tls-cert"),
        "{warned}"
    );
    let mut cmd = bin();
    cmd.args(["server", "--listen", "127.0.0.1:0", "--admin-token", ADMIN])
        .env("RAILYARD_HOME", dir.path().join("data"))
        .stderr(std::fs::File::create(&log).unwrap());
    let (mut server, _) = start_reading_url(&mut cmd, "http://127.0.0.1:");
    let quiet = std::fs::read_to_string(&log).unwrap();
    let _ = server.kill();
    let _ = server.wait();
    assert!(!quiet.contains("serving plain HTTP"), "{quiet}");
}
