//! The agent's side of a sharded job's test queue: [`ServerQueue`] implements the runner's
//! [`RemoteTests`] over the server's `/api/v1/jobs/{id}/tests` endpoints, so a shard on
//! this agent and the job's other shards on other agents share one queue. Transient errors
//! (the server unreachable, a 5xx) are retried until the job is cancelled; any other refusal
//! ends the shard's tests and is kept, so the job reports it as failed.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use railyard_split::{Batch, Done, OpenError, RemoteTests, TestQueue, Timings};
use railyard_types::api::{self, Endpoint};
use railyard_types::error::{Chain, chain};
use railyard_types::protocol::{Claim, GiveBack, NextAnswer, NextBatch, TestsOpen};
use railyard_types::{AgentId, JobId};
use tokio_util::sync::CancellationToken;

use crate::retry::is_transient;
use crate::{AgentError, Client};

/// One shard's handle on its job's queue at the server.
pub(crate) struct ServerQueue {
    client: Client,
    job: JobId,
    agent_id: AgentId,
    attempt: i64,
    cancel: CancellationToken,
    failure: Mutex<Option<String>>,
}

impl ServerQueue {
    pub(crate) fn new(
        client: &Client,
        agent_id: &AgentId,
        claim: &Claim,
        cancel: CancellationToken,
    ) -> Self {
        ServerQueue {
            client: client.clone(),
            job: claim.job_id.clone(),
            agent_id: agent_id.clone(),
            attempt: claim.attempt,
            cancel,
            failure: Mutex::new(None),
        }
    }

    /// Why the queue stopped serving this shard, if it did (not for a cancel).
    pub(crate) fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn fail(&self, why: String) {
        tracing::warn!("test queue: {why}");
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
    }

    /// Calls `E` for this job, retrying transient errors (backing off to 5 s) until it is
    /// answered or the job is cancelled (`None`).
    async fn call<E: Endpoint<Path = JobId, Query = ()>>(
        &self,
        body: &E::Request,
    ) -> Option<Result<E::Response, AgentError>> {
        let mut delay = Duration::from_millis(200);
        loop {
            let answer = tokio::select! {
                r = self.client.call::<E>(&self.job, body) => r,
                _ = self.cancel.cancelled() => return None,
            };
            match answer {
                Ok(v) => return Some(Ok(v)),
                Err(e) if is_transient(&e) => {
                    tracing::warn!("test queue: {}; retrying", Chain(&e));
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.cancel.cancelled() => return None,
                    }
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[async_trait]
impl TestQueue for ServerQueue {
    async fn next_batch(&self, shard: u32, done: Option<Done>) -> Option<Batch> {
        let mut body = NextBatch {
            agent_id: self.agent_id.clone(),
            attempt: self.attempt,
            shard,
            done,
        };
        loop {
            match self.call::<api::NextTests>(&body).await? {
                Ok(NextAnswer {
                    batch: Some(batch), ..
                }) => return Some(batch),
                Ok(NextAnswer {
                    wait_ms: Some(ms), ..
                }) => {
                    // Completed already; the shard holds nothing while it waits.
                    body.done = None;
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_millis(ms.min(5_000))) => {}
                        _ = self.cancel.cancelled() => return None,
                    }
                }
                Ok(_) => return None,
                Err(e) => {
                    self.fail(chain(&e));
                    return None;
                }
            }
        }
    }

    async fn give_back(&self, shard: u32) {
        let body = GiveBack {
            agent_id: self.agent_id.clone(),
            attempt: self.attempt,
            shard,
        };
        // Once: a shard gives back as it stops (maybe cancelled); if this fails, the server
        // gives the batch back when the shard's lease ends.
        if let Err(e) = self
            .client
            .call::<api::GiveBackTests>(&self.job, &body)
            .await
        {
            tracing::warn!(
                "test queue: giving back shard {shard}'s batch: {}",
                Chain(&e)
            );
        }
    }
}

#[async_trait]
impl RemoteTests for ServerQueue {
    async fn open(&self, tests: &[String]) -> Result<Timings, OpenError> {
        let body = TestsOpen {
            agent_id: self.agent_id.clone(),
            attempt: self.attempt,
            tests: tests.to_vec(),
        };
        match self.call::<api::OpenTests>(&body).await {
            None => Err(OpenError::Cancelled),
            Some(Ok(opened)) => {
                let mut timings = Timings::new();
                for (id, secs) in opened.timings {
                    timings.insert(id, secs);
                }
                Ok(timings)
            }
            Some(Err(e)) => Err(OpenError::Failed(e.into())),
        }
    }
}
