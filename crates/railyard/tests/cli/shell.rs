//! `railyard shell`: a job's environment with its services, then torn down.

use crate::common::{Project, text};

#[test]
fn shell_runs_in_the_jobs_environment_with_its_services_and_cleans_up() {
    let p = Project::new(
        r#"
env: { image: busybox }
variables: { WHO: developer }
jobs:
  web:
    services:
      api:
        image: busybox
        command: mkdir -p /www && echo pong > /www/ping && exec httpd -f -p 8080 -h /www
        ready: wget -q -O /dev/null http://localhost:8080/ping
    script: [echo unused]
"#,
    );
    p.write("src/file.txt", "mine\n");
    let out = p.run(&[
        "shell",
        "web",
        "-c",
        "wget -q -O - http://api:8080/ping; cat src/file.txt; echo $WHO; exit 7",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(7),
        "the command's exit code is kept: {stdout}\n{}",
        text(&out.stderr)
    );
    assert_eq!(stdout, "pong\nmine\ndeveloper\n");
    let left = std::process::Command::new("docker")
        .args([
            "ps",
            "-aq",
            "--filter",
            "label=io.railyard.job=web",
            "--filter",
            "label=io.railyard.run",
        ])
        .output()
        .unwrap();
    let ids = text(&left.stdout);
    // Other tests may run a `web` job concurrently; ours are named after a shell- run id.
    for id in ids.lines() {
        let name = std::process::Command::new("docker")
            .args([
                "inspect",
                "-f",
                "{{index .Config.Labels \"io.railyard.run\"}}",
                id,
            ])
            .output()
            .unwrap();
        assert!(
            !text(&name.stdout).starts_with("shell-"),
            "a shell container was left behind"
        );
    }
}
