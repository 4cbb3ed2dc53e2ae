//! The server's logs for `railyard logs` with `RAILYARD_SERVER` set: a job's log, a whole
//! run's, or one job followed live over server-sent events (`--follow`), exiting with the job's
//! status.

use std::io::Write;

use railyard_agent::{AgentError, Client};
use railyard_store::{JobStatus, RunDetail};
use railyard_types::RunId;
use railyard_types::api::{self, Endpoint};
use railyard_types::exit_codes;
use railyard_types::terminal::{for_stdout, terminal_safe};

use super::Expected;
use anyhow::Context;

/// Prints the log of `job` (or of every job) of a server's run; follows it with `follow`.
pub async fn remote_logs(
    client: &Client,
    server: &str,
    run: &str,
    job: Option<&str>,
    follow: bool,
) -> anyhow::Result<i32> {
    match (job, follow) {
        (Some(job), true) => follow_job(client, server, run, job).await,
        (Some(job), false) => {
            let text = client
                .call::<api::JobLog>(&(RunId::from(run), job.to_string()), &())
                .await?;
            print!("{}", for_stdout(&text));
            Ok(exit_codes::OK)
        }
        (None, true) => Err(Expected::Input(
            "--follow follows one job: name it, `railyard logs RUN JOB --follow`".into(),
        )
        .into()),
        (None, false) => {
            let detail: RunDetail = client.call::<api::GetRun>(&run.into(), &()).await?;
            let id = RunId::from(detail.run.id.as_str());
            for j in &detail.jobs {
                let log = (id.clone(), j.name.clone());
                let text = match client.call::<api::JobLog>(&log, &()).await {
                    Ok(text) => text,
                    // A job that never started has no log yet.
                    Err(AgentError::Api { status: 404, .. }) => continue,
                    Err(e) => return Err(e.into()),
                };
                println!("==> {} <==", terminal_safe(&j.name));
                print!("{}", for_stdout(&text));
            }
            Ok(exit_codes::OK)
        }
    }
}

/// Streams `text/event-stream`: each `data:` line printed as it comes, until the `end`
/// event, whose data is the job's status.
async fn follow_job(client: &Client, server: &str, run: &str, job: &str) -> anyhow::Result<i32> {
    let log = (RunId::from(run), job.to_string());
    let url = format!(
        "{}{}",
        server.trim_end_matches('/'),
        api::FollowLog::url(&log, &())
    );
    let mut response = match client.open::<api::FollowLog>(&log, &(), &()).await {
        Ok(response) => response,
        Err(AgentError::Http { source, .. }) => {
            return Err(anyhow::Error::new(source).context(format!("cannot reach {url}")));
        }
        Err(AgentError::Api {
            status, message, ..
        }) => {
            let status = reqwest::StatusCode::from_u16(status)
                .map_or_else(|_| status.to_string(), |s| s.to_string());
            return Err(Expected::Input(format!("{url}: {status}: {message}")).into());
        }
        Err(e) => return Err(e.into()),
    };
    let mut events = EventParser::default();
    let mut out = std::io::stdout();
    while let Some(chunk) = response
        .chunk()
        .await
        .with_context(|| format!("following {url}"))?
    {
        for event in events.push(&chunk) {
            if event.name == "end" {
                out.flush()?;
                return Ok(match JobStatus::parse(&event.data) {
                    Some(JobStatus::Success) => exit_codes::OK,
                    Some(JobStatus::Cancelled) => exit_codes::CANCELLED,
                    _ => exit_codes::JOBS_FAILED,
                });
            }
            writeln!(out, "{}", for_stdout(&event.data))?;
            out.flush()?;
        }
    }
    Err(anyhow::anyhow!(
        "the server closed {url} before the job ended: run the command again to read on"
    ))
}

/// One server-sent event: its name (`message` unless named) and data.
#[derive(Debug, PartialEq, Eq)]
struct Event {
    name: String,
    data: String,
}

/// Cuts a byte stream into events (blank-line separated; `event:`, `data:` fields; comments
/// and keep-alives skipped).
#[derive(Default)]
struct EventParser {
    buffer: Vec<u8>,
}

impl EventParser {
    fn push(&mut self, bytes: &[u8]) -> Vec<Event> {
        self.buffer.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = find_blank_line(&self.buffer) {
            let block: Vec<u8> = self.buffer.drain(..end.1).collect();
            let block = String::from_utf8_lossy(&block[..end.0]).into_owned();
            let mut name = String::from("message");
            let mut data: Option<String> = None;
            for line in block.lines() {
                let (field, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => name = value.to_string(),
                    "data" => match &mut data {
                        Some(d) => {
                            d.push('\n');
                            d.push_str(value);
                        }
                        None => data = Some(value.to_string()),
                    },
                    _ => {}
                }
            }
            if let Some(data) = data {
                events.push(Event { name, data });
            }
        }
        events
    }
}

/// Where the first event ends: (its length, its length with the blank line).
fn find_blank_line(b: &[u8]) -> Option<(usize, usize)> {
    let lf = b.windows(2).position(|w| w == b"\n\n").map(|i| (i, i + 2));
    let crlf = b
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    match (lf, crlf) {
        (Some(a), Some(c)) => Some(if a.0 < c.0 { a } else { c }),
        (a, c) => a.or(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_come_out_whole() {
        let mut p = EventParser::default();
        assert!(p.push(b"data: one\n\ndata: tw").len() == 1);
        let rest = p.push(b"o\n\n: keep-alive\n\nevent: end\ndata: success\n\n");
        assert_eq!(
            rest,
            vec![
                Event {
                    name: "message".into(),
                    data: "two".into()
                },
                Event {
                    name: "end".into(),
                    data: "success".into()
                }
            ]
        );
    }

    #[test]
    fn an_empty_line_of_log_is_an_empty_event() {
        let mut p = EventParser::default();
        let events = p.push(b"data:\n\ndata: \n\n");
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.data.is_empty()));
    }
}
