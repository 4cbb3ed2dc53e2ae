//! Project secrets on the fleet (issue 14): sealed at rest under the server's key file, given
//! to a job only in its claim, masked in its log (also base64), kept from unprotected refs; a
//! job naming a missing one fails before it starts; a wrong key stops the server's start.

use std::path::{Path, PathBuf};

use crate::fleet::*;

const VALUE: &str = "s3cr3t-deploy-value-0xC0FFEE";

/// Checks the value by its length and ends (the repository must not hold it, or the search of
/// the fleet's files for it would find it there), then prints it plain and in base64.
const DEPLOY: &str = "env: { image: busybox }\nsecrets: [DEPLOY_KEY]\njobs:\n  deploy:\n    script:\n      - test ${#DEPLOY_KEY} -eq 28\n      - case $DEPLOY_KEY in s3cr3t-deploy-*FEE) ;; *) exit 1;; esac\n      - echo \"key=$DEPLOY_KEY\"\n      - echo \"$DEPLOY_KEY\" | base64\n      - printf '%s' \"$DEPLOY_KEY\" | base64\n      - printf '%s' \"x$DEPLOY_KEY\" | base64\n";

/// A key file of 32 bytes (`fill` each) in the fleet's folder.
pub(crate) fn key_file(fleet: &Fleet, name: &str, fill: u8) -> PathBuf {
    let file = fleet.dir.path().join(name);
    std::fs::write(&file, format!("{}\n", hex(&[fill; 32]))).unwrap();
    file
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The fleet's server restarted with `key` as its secrets key file.
pub(crate) fn with_key(fleet: &mut Fleet, db: Option<&str>, key: &Path) {
    fleet.restart_server_with(db, &["--secrets-key-file", key.to_str().unwrap()]);
}

/// `railyard secret set` with the value on standard input.
pub(crate) fn set_secret(fleet: &Fleet, project: &str, name: &str, value: &str, flags: &[&str]) {
    use std::io::Write;
    let mut cmd = fleet.cli(&["secret", "set", project, name]);
    cmd.args(flags)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{value}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "secret set: {}", text(&out.stderr));
}

fn add_project(fleet: &Fleet) {
    fleet.cli_ok(&["project", "add", "demo", "--repo", &fleet.repo_url()]);
}

fn trigger_ref(fleet: &Fleet, git_ref: &str) -> String {
    let out = fleet.cli_ok(&["trigger", "demo", "--ref", git_ref, "--json"]);
    let triggered: serde_json::Value = serde_json::from_str(&out).unwrap();
    triggered["run"]["id"].as_str().unwrap().to_string()
}

/// Every file under `dir` (logs, the database, spools) searched for `needle`'s bytes.
fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in walk(dir) {
        if let Ok(bytes) = std::fs::read(&entry)
            && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        {
            found.push(entry);
        }
    }
    found
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_fleet_job_gets_its_secret_and_its_log_masks_it() {
    fleet_job_gets_its_secret(Fleet::start(DEPLOY), None);
}

#[test]
fn a_fleet_job_gets_its_secret_and_its_log_masks_it_on_postgres() {
    let Some(db) = PgDb::create() else {
        return;
    };
    fleet_job_gets_its_secret(Fleet::start_on(DEPLOY, Some(&db.url)), Some(&db.url));
}

fn fleet_job_gets_its_secret(mut fleet: Fleet, db: Option<&str>) {
    let key = key_file(&fleet, "secrets.key", 7);
    with_key(&mut fleet, db, &key);
    add_project(&fleet);
    set_secret(&fleet, "demo", "DEPLOY_KEY", VALUE, &[]);
    fleet.agent("keeper");
    let run = trigger_ref(&fleet, "main");
    fleet.wait_success(&run, 240);
    let log = fleet.log(&run, "deploy");
    assert!(log.contains("key=***"), "{log}");
    let b64 = |s: &str| railyard_types::secrets::base64(s.as_bytes());
    for form in [
        VALUE.to_string(),
        b64(&format!("{VALUE}\n")),
        b64(VALUE),
        b64(VALUE)[..20].to_string(),
    ] {
        assert!(!log.contains(&form), "`{form}` in the log:\n{log}");
    }
    // Listed by name, never by value; no endpoint reads it back.
    let (status, list) = fleet.get("/api/v1/projects/demo/secrets");
    assert_eq!(status, 200, "{list}");
    assert!(
        list.contains("DEPLOY_KEY") && !list.contains(VALUE),
        "{list}"
    );
    let listed = fleet.cli_ok(&["secret", "list", "demo"]);
    assert!(listed.contains("DEPLOY_KEY"), "{listed}");
    // Neither the database, the logs of server and agent, nor the agent's folders hold it.
    let found = files_holding(fleet.dir.path(), VALUE);
    assert!(found.is_empty(), "the plain value is in {found:?}");
}

#[test]
fn a_job_naming_a_missing_secret_fails_before_it_starts_naming_it() {
    let mut fleet = Fleet::start(
        "env: { image: busybox }\nsecrets: [NOT_SET_ANYWHERE]\njobs:\n  deploy:\n    script: [echo ran]\n",
    );
    let key = key_file(&fleet, "secrets.key", 7);
    with_key(&mut fleet, None, &key);
    add_project(&fleet);
    fleet.agent("keeper");
    let run = trigger_ref(&fleet, "main");
    let detail = fleet.wait_ended_as(&run, 120, "failed");
    let error = detail["jobs"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("`NOT_SET_ANYWHERE` is not set for project `demo`"),
        "{detail}"
    );
    let log = fleet.log(&run, "deploy");
    assert!(
        log.contains("not started") && !log.contains("\nran"),
        "{log}"
    );
}

#[test]
fn a_protected_secret_is_not_given_to_a_branch_run() {
    let mut fleet = Fleet::start(DEPLOY);
    let key = key_file(&fleet, "secrets.key", 7);
    with_key(&mut fleet, None, &key);
    add_project(&fleet);
    set_secret(
        &fleet,
        "demo",
        "DEPLOY_KEY",
        VALUE,
        &["--protected-refs", "main,release/*"],
    );
    let work = fleet.dir.path().join("work");
    git(&work, &["push", "-q", "../repo.git", "main:feature"]);
    fleet.agent("keeper");
    let branch = trigger_ref(&fleet, "feature");
    let detail = fleet.wait_ended_as(&branch, 120, "failed");
    let error = detail["jobs"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("`DEPLOY_KEY`") && error.contains("refs/heads/feature"),
        "{detail}"
    );
    let main = trigger_ref(&fleet, "main");
    fleet.wait_success(&main, 240);
}

#[test]
fn a_wrong_key_file_stops_the_start_naming_it_and_a_rotation_reseals() {
    let mut fleet = Fleet::start(DEPLOY);
    let old = key_file(&fleet, "old.key", 7);
    with_key(&mut fleet, None, &old);
    add_project(&fleet);
    set_secret(&fleet, "demo", "DEPLOY_KEY", VALUE, &[]);
    fleet.server.kill().unwrap();
    fleet.server.wait().unwrap();
    let new = key_file(&fleet, "new.key", 9);
    let start = |flags: &[&str]| {
        let mut cmd = bin();
        cmd.args(["server", "--listen", "127.0.0.1:0", "--admin-token", ADMIN])
            .args(flags)
            .env("RAILYARD_HOME", fleet.dir.path().join("data"));
        cmd
    };
    // Another key: refused at start, naming the file and what to do.
    let out = output_within(start(&["--secrets-key-file", new.to_str().unwrap()]), 60);
    let said = text(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(new.to_str().unwrap()) && said.contains("--secrets-old-key-file"),
        "{said}"
    );
    // Not a key at all: refused, naming the file.
    let bad = fleet.dir.path().join("bad.key");
    std::fs::write(&bad, "not a key").unwrap();
    let out = output_within(start(&["--secrets-key-file", bad.to_str().unwrap()]), 60);
    let said = text(&out.stderr);
    assert!(
        !out.status.success() && said.contains(bad.to_str().unwrap()),
        "{said}"
    );
    // The rotation: new key with the old one seals every secret again; then the new alone
    // opens them.
    let addr = fleet.url.trim_start_matches("http://").to_string();
    let rotate = [
        "--secrets-key-file",
        new.to_str().unwrap(),
        "--secrets-old-key-file",
        old.to_str().unwrap(),
    ];
    let (server, _) = spawn_server_with(fleet.dir.path(), &addr, None, &rotate);
    fleet.server = server;
    with_key(&mut fleet, None, &new);
    fleet.agent("keeper");
    let run = trigger_ref(&fleet, "main");
    fleet.wait_success(&run, 240);
}

/// A project added with `user:token@` in its URL: the server's `git` reaches the repository
/// with the token as an `Authorization` header (seen by a listener standing in for the
/// forge), the URL it asks for carries none, and the token is in no answer, log or file.
#[test]
fn a_repository_credential_goes_to_git_as_a_header_and_nowhere_else() {
    use std::io::{Read, Write};
    const TOKEN: &str = "tok-C0FFEE-sentinel-42";
    let mut fleet = Fleet::start(DEPLOY);
    let key = key_file(&fleet, "secrets.key", 7);
    with_key(&mut fleet, None, &key);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let forge = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") && conn.read(&mut byte).unwrap() == 1 {
            request.push(byte[0]);
        }
        // Refused for good (a 401 would have git look for other credentials).
        let _ = conn
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        String::from_utf8_lossy(&request).into_owned()
    });
    let url = format!("http://ci-bot:{TOKEN}@127.0.0.1:{port}/private.git");
    let out = output_within(
        fleet.cli(&["project", "add", "private", "--repo", &url]),
        60,
    );
    let said = text(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("cannot read the repository") && !said.contains(TOKEN),
        "{said}"
    );
    let request = forge.join().unwrap();
    assert!(
        request.starts_with("GET /private.git/info/refs") && !request.contains(TOKEN),
        "{request}"
    );
    let basic = railyard_types::secrets::base64(format!("ci-bot:{TOKEN}").as_bytes());
    assert!(
        request.contains(&format!("Authorization: Basic {basic}")),
        "{request}"
    );
    let found = files_holding(fleet.dir.path(), TOKEN);
    assert!(found.is_empty(), "the token is in {found:?}");
    let (_, projects) = fleet.get("/api/v1/projects");
    assert!(!projects.contains(TOKEN), "{projects}");
}

/// A project stored before credentials moved out of URLs (`user:token@` in its row): the
/// server's start with a key moves the credential into the project's `@repo` secret and
/// strips the URL, which the API then shows without it.
#[test]
fn credentials_in_stored_repository_urls_move_into_a_secret_at_start() {
    const TOKEN: &str = "tok-moved-at-start-77";
    let mut fleet = Fleet::start(DEPLOY);
    add_project(&fleet);
    fleet.server.kill().unwrap();
    fleet.server.wait().unwrap();
    let db = walk(&fleet.dir.path().join("data"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "db"))
        .expect("the server's SQLite file");
    let url = format!("https://ci-bot:{TOKEN}@git.example.invalid/demo.git");
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(format!(
            "UPDATE projects SET repo_url = '{url}' WHERE name = 'demo'"
        ))
        .output()
        .expect("sqlite3 (Debian package sqlite3)");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let key = key_file(&fleet, "secrets.key", 7);
    let addr = fleet.url.trim_start_matches("http://").to_string();
    let flags = ["--secrets-key-file", key.to_str().unwrap()];
    let (server, _) = spawn_server_with(fleet.dir.path(), &addr, None, &flags);
    fleet.server = server;
    let (_, projects) = fleet.get("/api/v1/projects");
    assert!(
        projects.contains("https://git.example.invalid/demo.git") && !projects.contains(TOKEN),
        "{projects}"
    );
    let listed = fleet.cli_ok(&["secret", "list", "demo"]);
    assert!(listed.contains("@repo"), "{listed}");
    let log = std::fs::read_to_string(fleet.dir.path().join("server.err")).unwrap();
    assert!(
        log.contains("moved into their `@repo` secret") && !log.contains(TOKEN),
        "{log}"
    );
}
