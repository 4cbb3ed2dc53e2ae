//! `railyard server --config FILE`: the file, under the environment, under the flags; a bad
//! file named with its line, column and key.

use crate::fleet::*;

#[test]
fn a_config_file_sits_under_the_environment_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("railyard.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"file-admin\"\n\
         agent_token = \"file-agent\"\nlease_secs = 7\n",
    )
    .unwrap();
    let mut cmd = bin();
    cmd.args(["server", "--config"])
        .arg(&file)
        .args(["--agent-token", "flag-agent"])
        .env("RAILYARD__SERVER__ADMIN_TOKEN", "env-admin")
        .env("RAILYARD__SERVER__AGENT_TOKEN", "env-agent")
        .env("RAILYARD_HOME", dir.path().join("data"))
        .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap());
    // The address comes from the file (port 0), so the server printing one proves it read it.
    let (mut server, url) = start_printing_address(&mut cmd);
    let status = |path: &str, token: &str, body: &str| {
        let method = if body.is_empty() { "GET" } else { "POST" };
        http(&url, method, path, Some(token), body).0
    };
    assert_eq!(status("/api/v1/projects", "env-admin", ""), 200);
    assert_eq!(status("/api/v1/projects", "file-admin", ""), 401);
    let register = r#"{"name": "a", "slots": 1}"#;
    assert_eq!(
        status("/api/v1/agents/register", "flag-agent", register),
        200
    );
    assert_eq!(
        status("/api/v1/agents/register", "env-agent", register),
        401
    );
    assert_eq!(
        status("/api/v1/agents/register", "file-agent", register),
        401
    );
    // The lease comes from the file too.
    let (_, body) = http(
        &url,
        "POST",
        "/api/v1/agents/register",
        Some("flag-agent"),
        register,
    );
    assert!(body.contains("\"lease_ms\":7000"), "{body}");
    // An agent configured by its `[agent]` table alone registers under the file's name.
    let agent_file = dir.path().join("agent.toml");
    std::fs::write(
        &agent_file,
        format!("[agent]\nserver = \"{url}\"\ntoken = \"flag-agent\"\nname = \"from-file\"\n"),
    )
    .unwrap();
    let mut agent = bin()
        .args(["agent", "--config"])
        .arg(&agent_file)
        .stderr(std::fs::File::create(dir.path().join("agent.err")).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, agents) = http(&url, "GET", "/api/v1/agents", Some("env-admin"), "");
        if agents.contains("\"from-file\"") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the agent never registered: {agents} {}",
            std::fs::read_to_string(dir.path().join("agent.err")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = agent.kill();
    let _ = agent.wait();
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn without_a_bootstrap_agent_token_only_stored_ones_let_agents_in() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("railyard.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:0\"\nadmin_token = \"adm\"\n",
    )
    .unwrap();
    let mut cmd = bin();
    cmd.args(["server", "--config"])
        .arg(&file)
        .env("RAILYARD_HOME", dir.path().join("data"))
        .stderr(std::fs::File::create(dir.path().join("server.err")).unwrap());
    let (mut server, url) = start_printing_address(&mut cmd);
    let register = r#"{"name": "a", "slots": 1}"#;
    let path = "/api/v1/agents/register";
    assert_eq!(
        http(&url, "POST", path, Some("agent-secret"), register).0,
        401
    );
    let body = r#"{"name": "only", "role": "agent"}"#;
    let (status, created) = http(&url, "POST", "/api/v1/tokens", Some("adm"), body);
    assert_eq!(status, 201, "{created}");
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let token = created["token"].as_str().unwrap();
    assert_eq!(http(&url, "POST", path, Some(token), register).0, 200);
    // An admin token is no agent token, nor the reverse.
    assert_eq!(http(&url, "POST", path, Some("adm"), register).0, 401);
    assert_eq!(http(&url, "GET", "/api/v1/runs", Some(token), "").0, 401);
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn a_bad_config_file_is_named_with_line_column_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("railyard.toml");
    let run = |toml: &str| {
        std::fs::write(&file, toml).unwrap();
        let mut cmd = bin();
        cmd.args(["server", "--config"])
            .arg(&file)
            .env("RAILYARD_HOME", dir.path().join("data"));
        let out = output_within(cmd, 30);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let err = run("[server]\nadmin_token = \"a\"\nlease_sec = 3\n");
    let place = format!("{}:3:1", file.display());
    assert!(err.contains(&place), "{err}");
    assert!(err.contains("server.lease_sec"), "{err}");
    let err = run("[server]\nlease_secs = \"soon\"\n");
    assert!(err.contains(&format!("{}:2:14", file.display())), "{err}");
    assert!(err.contains("server.lease_secs"), "{err}");
    let err = run("[server]\nlisten = \"127.0.0.1:0\"\n");
    assert!(err.contains("admin token is missing"), "{err}");
    // The agent reads its own table, with the same errors.
    std::fs::write(&file, "[agent]\nslots = 2\nlabel = [\"gpu\"]\n").unwrap();
    let mut cmd = bin();
    cmd.args(["agent", "--config"]).arg(&file);
    let out = output_within(cmd, 30);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:3:1", file.display())), "{err}");
    assert!(err.contains("agent.label"), "{err}");
    // Nothing was started or stored for a refused configuration.
    assert!(!dir.path().join("data").exists());
}
