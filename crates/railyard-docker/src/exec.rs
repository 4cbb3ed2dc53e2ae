//! Commands in running containers: streamed with stdout and stderr apart (`tty=false`, so
//! output is never held back waiting for a newline), or attached to the caller's terminal.

use crate::client::Docker;
use crate::errors::{DockerError, server_error};
use bollard::container::LogOutput;
use bollard::exec::{StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::query_parameters::ResizeExecOptionsBuilder;
use bytes::Bytes;
use futures_util::StreamExt;
use std::io::{IsTerminal, Write};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// A command to run in a container.
#[derive(Debug, Clone, Default)]
pub struct ExecSpec {
    /// The command and its arguments (no shell is added).
    pub cmd: Vec<String>,
    /// Environment variables, on top of the container's.
    pub env: Vec<(String, String)>,
    /// Working directory; the container's when `None`.
    pub working_dir: Option<String>,
    /// `user`, `uid` or `uid:gid`; the container's when `None`.
    pub user: Option<String>,
}

/// A chunk of a command's output, as it arrived (not split into lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Written to standard output.
    Stdout(Bytes),
    /// Written to standard error.
    Stderr(Bytes),
}

/// How long the engine may take to record an exit code after the output has ended; it is
/// usually at once, but a loaded machine can lag by seconds.
const EXIT_CODE_WAIT: Duration = Duration::from_secs(30);

/// When a running command's state is first looked at, and the most time between two looks:
/// a step that leaves a process holding its output ends this long after its shell at worst.
const EXIT_POLL_FIRST: Duration = Duration::from_millis(100);
const EXIT_POLL_MAX: Duration = Duration::from_secs(1);

/// How long output already written may take to arrive once the command has exited.
const EXIT_DRAIN: Duration = Duration::from_millis(200);

/// How the engine's own message starts when a command cannot be started at all.
const EXEC_FAILED: &[u8] = b"OCI runtime exec failed";

/// The exit code shells use for "command not found"; Docker 20.10 reports 126 instead when
/// the executable of an exec does not exist.
pub const EXIT_NOT_FOUND: i64 = 127;

impl ExecSpec {
    fn config(&self, interactive: bool, tty: bool) -> ExecConfig {
        ExecConfig {
            attach_stdin: Some(interactive),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(tty),
            env: Some(self.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            cmd: Some(self.cmd.clone()),
            privileged: Some(false),
            user: self.user.clone(),
            working_dir: self.working_dir.clone(),
            ..Default::default()
        }
    }
}

impl Docker {
    /// Runs a command in a running container, streaming its output; returns its exit code
    /// (127 when the executable does not exist; -1 when the engine recorded none, e.g. the
    /// container was removed under it). Dropping the future leaves the process running until
    /// its container goes.
    pub async fn exec(
        &self,
        container: &str,
        spec: &ExecSpec,
        on_output: &mut (dyn FnMut(Output) + Send),
    ) -> Result<i64, DockerError> {
        let exec_id = self.create_exec(container, spec, false, false).await?;
        let started = self
            .client
            .start_exec(
                &exec_id,
                Some(StartExecOptions {
                    detach: false,
                    tty: false,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(self.err_for(
                "container",
                container,
                format!("starting a command in `{container}`"),
            ))?;
        let mut start_failure = String::new();
        let mut exited = None;
        if let StartExecResults::Attached { mut output, .. } = started {
            let mut on_item = |item: Result<LogOutput, bollard::errors::Error>| {
                let item =
                    item.map_err(self.err(format!("reading command output from `{container}`")))?;
                match item {
                    // The engine writes its own "exec failed" text to stdout (framed or not):
                    // it is an error, so it goes to stderr.
                    LogOutput::StdOut { message } | LogOutput::Console { message }
                        if message.starts_with(EXEC_FAILED) =>
                    {
                        start_failure.push_str(&String::from_utf8_lossy(&message));
                        on_output(Output::Stderr(message));
                    }
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        on_output(Output::Stdout(message))
                    }
                    LogOutput::StdErr { message } => on_output(Output::Stderr(message)),
                    LogOutput::StdIn { .. } => {}
                }
                Ok::<_, DockerError>(())
            };
            // The output ends when every process holding it has closed it, and a background
            // process (`server &`) may hold it for ever: the command ends when it exits, so
            // its state is also looked at now and then, as GitLab Runner and act end a step
            // on the process's exit rather than on the end of its output.
            let mut delay = EXIT_POLL_FIRST;
            let poll = tokio::time::sleep(delay);
            tokio::pin!(poll);
            loop {
                tokio::select! {
                    item = output.next() => match item {
                        Some(item) => on_item(item)?,
                        None => break,
                    },
                    () = &mut poll => {
                        if let Some(code) = self.exec_exited(&exec_id).await {
                            // Take what is already on its way, then stop reading.
                            let until = tokio::time::Instant::now() + EXIT_DRAIN;
                            while let Ok(Some(item)) =
                                tokio::time::timeout_at(until, output.next()).await
                            {
                                on_item(item)?;
                            }
                            exited = Some(code);
                            break;
                        }
                        delay = (delay * 2).min(EXIT_POLL_MAX);
                        poll.as_mut().reset(tokio::time::Instant::now() + delay);
                    }
                }
            }
        }
        let code = match exited {
            Some(code) => code,
            None => self.exec_exit_code(&exec_id).await?,
        };
        Ok(translate_exit_code(code, &start_failure))
    }

    /// Runs a command attached to the caller's terminal: a TTY in raw mode when stdin and
    /// stdout are terminals (resized with the window), plain pipes otherwise. Returns the
    /// exit code. Stdin is read by a helper thread that may outlive the call by one read.
    pub async fn exec_interactive(
        &self,
        container: &str,
        spec: &ExecSpec,
    ) -> Result<i64, DockerError> {
        let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let exec_id = self.create_exec(container, spec, true, tty).await?;
        let started = self
            .client
            .start_exec(
                &exec_id,
                Some(StartExecOptions {
                    detach: false,
                    tty,
                    output_capacity: None,
                }),
            )
            .await
            .map_err(self.err_for(
                "container",
                container,
                format!("starting a shell in `{container}`"),
            ))?;
        let StartExecResults::Attached {
            mut output,
            mut input,
        } = started
        else {
            return self.exec_exit_code(&exec_id).await;
        };

        let _raw = if tty { Some(RawMode::enable()?) } else { None };
        let resizer = tty.then(|| tokio::spawn(follow_window_size(self.clone(), exec_id.clone())));

        // Stdin: a plain thread, since a blocking read cannot be cancelled.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 4096];
            loop {
                match std::io::Read::read(&mut stdin, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.blocking_send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let pump = tokio::spawn(async move {
            while let Some(chunk) = rx.recv().await {
                if input.write_all(&chunk).await.is_err() {
                    return;
                }
                let _ = input.flush().await;
            }
            // Stdin ended (a pipe): let the command see end of input.
            let _ = input.shutdown().await;
        });

        let mut failure = String::new();
        let mut result = Ok(());
        while let Some(item) = output.next().await {
            match item {
                Ok(LogOutput::StdErr { message }) => {
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(&message);
                    let _ = err.flush();
                }
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message })
                    if !tty && message.starts_with(EXEC_FAILED) =>
                {
                    failure.push_str(&String::from_utf8_lossy(&message));
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(&message);
                    let _ = err.flush();
                }
                Ok(LogOutput::StdOut { message }) | Ok(LogOutput::Console { message }) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&message);
                    let _ = out.flush();
                }
                Ok(LogOutput::StdIn { .. }) => {}
                Err(e) => {
                    result = Err(self
                        .err(format!("reading the shell's output from `{container}`"))(
                        e
                    ));
                    break;
                }
            }
        }
        pump.abort();
        if let Some(r) = resizer {
            r.abort();
        }
        drop(_raw);
        result?;
        let code = self.exec_exit_code(&exec_id).await?;
        Ok(translate_exit_code(code, &failure))
    }

    async fn create_exec(
        &self,
        container: &str,
        spec: &ExecSpec,
        interactive: bool,
        tty: bool,
    ) -> Result<String, DockerError> {
        if spec.cmd.is_empty() {
            return Err(DockerError::InvalidSpec {
                name: container.to_string(),
                reason: "an exec needs a command".to_string(),
            });
        }
        let created = self
            .client
            .create_exec(container, spec.config(interactive, tty))
            .await
            .map_err(|e| match server_error(&e) {
                Some((409, message)) => DockerError::NotRunning {
                    container: container.to_string(),
                    message: message.to_string(),
                },
                _ => self.err_for(
                    "container",
                    container,
                    format!("creating a command in `{container}`"),
                )(e),
            })?;
        Ok(created.id)
    }

    /// The exit code when the command has ended, `None` while it runs or when the engine
    /// cannot say (the output's end then settles it).
    async fn exec_exited(&self, exec_id: &str) -> Option<i64> {
        let info = self.client.inspect_exec(exec_id).await.ok()?;
        (info.running == Some(false)).then(|| info.exit_code.unwrap_or(-1))
    }

    /// The exit code once the engine has recorded it (it may lag the end of the output).
    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64, DockerError> {
        let mut delay = Duration::from_millis(2);
        let deadline = tokio::time::Instant::now() + EXIT_CODE_WAIT;
        while tokio::time::Instant::now() < deadline {
            let info = self
                .client
                .inspect_exec(exec_id)
                .await
                .map_err(self.err_for("exec", exec_id, "reading a command's exit code"))?;
            if info.running != Some(true) {
                return Ok(info.exit_code.unwrap_or(-1));
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(100));
        }
        Ok(-1)
    }
}

/// Docker 20.10 says 126 for an executable that does not exist; shells (and newer engines)
/// say 127, which is what a pipeline author expects.
fn translate_exit_code(code: i64, start_failure: &str) -> i64 {
    let not_found = start_failure.contains("executable file not found")
        || start_failure.contains("no such file or directory");
    if code == 126 && not_found {
        EXIT_NOT_FOUND
    } else {
        code
    }
}

/// Raw terminal mode for the life of the value.
struct RawMode;

impl RawMode {
    fn enable() -> Result<RawMode, DockerError> {
        crossterm::terminal::enable_raw_mode().map_err(|source| DockerError::Io {
            doing: "switching the terminal to raw mode".to_string(),
            source,
        })?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Keeps the exec's TTY the size of the caller's window.
async fn follow_window_size(docker: Docker, exec_id: String) {
    let resize = |docker: &Docker, exec_id: &str| {
        let (w, h) = crossterm::terminal::size().unwrap_or((80, 24));
        let options = ResizeExecOptionsBuilder::default()
            .w(i32::from(w))
            .h(i32::from(h))
            .build();
        let docker = docker.clone();
        let exec_id = exec_id.to_string();
        async move {
            let _ = docker.client.resize_exec(&exec_id, options).await;
        }
    };
    resize(&docker, &exec_id).await;
    let Ok(mut winch) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
    else {
        return;
    };
    while winch.recv().await.is_some() {
        resize(&docker, &exec_id).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_executable_exits_127() {
        let text = "OCI runtime exec failed: exec failed: unable to start container process: \
                    exec: \"nosuch\": executable file not found in $PATH: unknown";
        assert_eq!(translate_exit_code(126, text), 127);
        assert_eq!(translate_exit_code(126, "permission denied"), 126);
        assert_eq!(translate_exit_code(3, ""), 3);
    }
}
