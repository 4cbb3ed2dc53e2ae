//! `GET /api/v1/runs/{id}/logs/{job}/follow`: a job's log as server-sent events, one `data:`
//! event per line from the start, then new lines as they are stored, and a last `end` event
//! (its data the job's final status) once the job is over and every line was sent. The
//! lines come from the job's chunks in the database, read by id, so a follower of any server
//! on the database sees what an agent sent to another.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use railyard_types::RunId;
use railyard_types::api::FollowLog;

use crate::AppState;
use crate::api::{ApiResult, Params, Raw};
use crate::error::ApiError;

struct Follow {
    state: AppState,
    run_id: RunId,
    job: String,
    /// The id of the last chunk read (0: none yet).
    after: i64,
    /// The end of the last chunk read when it was not a whole line.
    partial: Vec<u8>,
    pending: VecDeque<Event>,
    finished: bool,
}

pub(crate) async fn follow(
    State(state): State<AppState>,
    caller: crate::api::Caller<FollowLog>,
    Params((id, job)): Params<FollowLog>,
) -> ApiResult<Raw<FollowLog>> {
    let run = caller.run(&state, &id).await?;
    if !run.jobs.iter().any(|j| j.name == job) {
        return Err(ApiError::NotFound(format!(
            "job `{job}` of run {}",
            run.run.id
        )));
    }
    let start = Follow {
        state,
        run_id: run.run.id,
        job,
        after: 0,
        partial: Vec::new(),
        pending: VecDeque::new(),
        finished: false,
    };
    // Each line is one event's data; the stream is not a value, so the answer is raw.
    let stream = futures_util::stream::unfold(start, |mut s| async move {
        loop {
            if let Some(event) = s.pending.pop_front() {
                return Some((Ok::<_, Infallible>(event), s));
            }
            if s.finished {
                return None;
            }
            // The status first, then the chunks: a job seen over has all its lines stored.
            let status = s.final_status().await;
            // A failed read (the database busy for a moment) is tried again, never taken for
            // the end of the log.
            let read = s.read_chunks().await;
            if read.is_none_or(|n| n == 0) {
                if let (Some(status), Some(0)) = (status, read) {
                    s.read_rest().await;
                    s.pending
                        .push_back(Event::default().event("end").data(status));
                    s.finished = true;
                    continue;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });
    Ok(Raw::new(Sse::new(stream).keep_alive(KeepAlive::default())))
}

impl Follow {
    /// The job's status if it is over (or the run is gone).
    async fn final_status(&self) -> Option<String> {
        match self.state.store().find_run(None, &self.run_id).await {
            Ok(Some(run)) => run
                .jobs
                .iter()
                .find(|j| j.name == self.job)
                .filter(|j| j.status.is_final())
                .map(|j| j.status.as_str().to_string()),
            Ok(None) => Some("gone".into()),
            Err(_) => None,
        }
    }

    /// Queues the whole lines of the chunks stored after the last one read, keeping a line
    /// cut between chunks for later; returns how many chunks were read, None when the read
    /// failed.
    async fn read_chunks(&mut self) -> Option<usize> {
        let store = self.state.store();
        let chunks = match store
            .log_chunks_after(&self.run_id, &self.job, self.after)
            .await
        {
            Ok(chunks) => chunks,
            Err(e) => {
                tracing::warn!(run = %self.run_id, job = %self.job, "following a log: {}", railyard_types::error::Chain(&e));
                return None;
            }
        };
        for chunk in &chunks {
            self.after = chunk.id;
            self.partial.extend_from_slice(&chunk.bytes);
            if let Some(last) = self.partial.iter().rposition(|&b| b == b'\n') {
                let rest = self.partial.split_off(last + 1);
                let whole = std::mem::replace(&mut self.partial, rest);
                self.push_lines(&whole[..last]);
            }
        }
        Some(chunks.len())
    }

    /// Once the job is over: a last line without its newline.
    async fn read_rest(&mut self) {
        let rest = std::mem::take(&mut self.partial);
        let rest = rest.strip_suffix(b"\n").unwrap_or(&rest);
        if !rest.is_empty() {
            self.push_lines(rest);
        }
    }

    fn push_lines(&mut self, text: &[u8]) {
        for line in text.split(|&b| b == b'\n') {
            self.pending
                .push_back(Event::default().data(String::from_utf8_lossy(line)));
        }
    }
}
