//! `GET /api/v1/runs/{id}/logs/{job}/follow`: a job's log as server-sent events, one `data:`
//! event per line from the start, then new lines as they are stored, and a last `end` event
//! (its data the job's final status) once the job is over and every line was sent.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::AppState;
use crate::api::Admin;
use crate::error::ApiError;

struct Follow {
    state: AppState,
    run_id: String,
    job: String,
    offset: u64,
    pending: VecDeque<Event>,
    finished: bool,
}

pub(crate) async fn follow(
    State(state): State<AppState>,
    _auth: Admin,
    Path((id, job)): Path<(String, String)>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let run = state
        .store()
        .find_run(None, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("run `{id}`")))?;
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
        offset: 0,
        pending: VecDeque::new(),
        finished: false,
    };
    let stream = futures_util::stream::unfold(start, |mut s| async move {
        loop {
            if let Some(event) = s.pending.pop_front() {
                return Some((Ok(event), s));
            }
            if s.finished {
                return None;
            }
            // The status first, then the file: a job seen over has all its lines stored.
            let status = s.final_status().await;
            let read = s.read_lines().await;
            if read == 0 {
                if let Some(status) = status {
                    s.pending
                        .push_back(Event::default().event("end").data(status));
                    s.finished = true;
                    continue;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
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

    /// Queues the whole lines stored past the offset; returns how many.
    async fn read_lines(&mut self) -> usize {
        let path = self.state.store().log_path(&self.run_id, &self.job);
        let Ok(mut file) = tokio::fs::File::open(&path).await else {
            return 0;
        };
        if file
            .seek(std::io::SeekFrom::Start(self.offset))
            .await
            .is_err()
        {
            return 0;
        }
        let mut bytes = Vec::new();
        if file.read_to_end(&mut bytes).await.is_err() {
            return 0;
        }
        let Some(last) = bytes.iter().rposition(|&b| b == b'\n') else {
            return 0;
        };
        let whole = &bytes[..=last];
        self.offset += whole.len() as u64;
        let mut n = 0;
        for line in whole[..whole.len() - 1].split(|&b| b == b'\n') {
            self.pending
                .push_back(Event::default().data(String::from_utf8_lossy(line)));
            n += 1;
        }
        n
    }
}
