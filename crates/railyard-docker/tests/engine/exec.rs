use crate::common::{TestRun, exec_collect};
use railyard_docker::{ExecSpec, Output};

fn sh(script: &str) -> ExecSpec {
    ExecSpec {
        cmd: vec!["sh".into(), "-c".into(), script.into()],
        ..Default::default()
    }
}

#[tokio::test]
async fn streams_stdout_and_stderr_apart_with_exit_codes() {
    let run = TestRun::new().await;
    let c = run.start(&run.sleeper("exec")).await;

    assert_eq!(
        run.sh(&c, "echo ok").await,
        (0, "ok\n".into(), String::new())
    );
    assert_eq!(
        run.sh(&c, "echo out; echo err >&2; exit 3").await,
        (3, "out\n".into(), "err\n".into())
    );
    // A step whose command does not exist, through a shell and directly.
    let (code, _, err) = run.sh(&c, "no-such-command-xyz").await;
    assert_eq!(code, 127, "{err}");
    let direct = ExecSpec {
        cmd: vec!["no-such-command-xyz".into()],
        ..Default::default()
    };
    let (code, out, err) = exec_collect(&run.docker, &c, &direct).await;
    assert_eq!(code, 127, "stdout={out:?} stderr={err:?}");
    assert!(err.contains("executable file not found"), "{err}");

    // Environment, working directory and user.
    let spec = ExecSpec {
        env: vec![("FOO".into(), "bar baz".into())],
        working_dir: Some("/tmp".into()),
        user: Some("65534".into()),
        ..sh("echo \"$FOO\"; pwd; id -u")
    };
    assert_eq!(
        exec_collect(&run.docker, &c, &spec).await,
        (0, "bar baz\n/tmp\n65534\n".into(), String::new())
    );
    run.finish().await;
}

/// Output reaches the caller while the command still runs: the command waits for a file
/// that is only created once its first line has been seen.
#[tokio::test]
async fn output_streams_while_the_command_runs() {
    let run = TestRun::new().await;
    let c = run.start(&run.sleeper("live")).await;
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let waiter = sh("echo first; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo second");
    let mut out = String::new();
    let mut on_output = |o| {
        if let Output::Stdout(b) = o {
            out.push_str(&String::from_utf8_lossy(&b));
            if out.contains("first") {
                let _ = seen_tx.send(());
            }
        }
    };
    let exec = run.docker.exec(&c, &waiter, &mut on_output);
    let release = async {
        seen_rx.recv().await.unwrap();
        run.sh(&c, "touch /tmp/go").await
    };
    let (code, released) = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        tokio::join!(exec, release)
    })
    .await
    .expect("the first line must arrive before the command ends");
    assert_eq!(code.unwrap(), 0);
    assert_eq!(released.0, 0);
    assert_eq!(out, "first\nsecond\n");
    run.finish().await;
}

#[tokio::test]
async fn interactive_exec_without_a_terminal_returns_the_exit_code() {
    let run = TestRun::new().await;
    let c = run.start(&run.sleeper("shell")).await;
    let code = run
        .docker
        .exec_interactive(&c, &sh("exit 5"))
        .await
        .unwrap();
    assert_eq!(code, 5);
    run.finish().await;
}

#[tokio::test]
async fn a_command_in_a_stopped_container_says_it_is_not_running() {
    let run = TestRun::new().await;
    let spec = run.sleeper("stopped");
    let id = run.docker.create_container(&spec).await.unwrap();
    let err = run
        .docker
        .exec(&id, &sh("true"), &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(err, railyard_docker::DockerError::NotRunning { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("is not running"), "{err}");
    let err = run
        .docker
        .exec(&run.name("gone"), &sh("true"), &mut |_| {})
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            railyard_docker::DockerError::NotFound {
                kind: "container",
                ..
            }
        ),
        "{err:?}"
    );
    run.finish().await;
}

/// A command that leaves a process behind holding its output (`server &`) ends when its
/// shell exits, with its exit code and the output written before, not when that process
/// ends (here an hour later; Docker 20.10 itself lets go of the output 2 s after the exit).
#[tokio::test]
async fn a_background_process_holding_the_output_does_not_hold_the_command() {
    let run = TestRun::new().await;
    let c = run.start(&run.sleeper("background")).await;
    assert_eq!(
        run.sh(
            &c,
            "sleep 3600 & echo $! >/tmp/bg; echo started; echo done >&2; exit 4"
        )
        .await,
        (4, "started\n".into(), "done\n".into())
    );
    // The process is still there: only the command ended.
    assert_eq!(run.sh(&c, "kill -0 \"$(cat /tmp/bg)\"").await.0, 0);
    run.finish().await;
}
