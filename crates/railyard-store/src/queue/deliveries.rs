//! Webhook deliveries already handled, by the forge's delivery id: a signed delivery captured
//! and sent again (a replay) must not start a second run. A delivery is recorded in the
//! transaction that queues its run ([`Store::queue_delivered_run`]), keyed by (project,
//! delivery id), so two copies racing meet at the key and one of them queues nothing; a
//! delivery whose run was never queued (its fetch failed, say) is not recorded and can be
//! redelivered. Rows are kept a day ([`Store::forget_deliveries`]).

use railyard_types::{Millis, ProjectName};

use super::QueuedJob;
use crate::records::{NewRun, RunRecord};
use crate::{Store, StoreError};

/// What queueing a delivery's run did.
#[derive(Debug)]
pub enum Delivered {
    /// The run, queued.
    Queued(Box<RunRecord>),
    /// The delivery was handled before: nothing was queued.
    AlreadyHandled,
    /// The project is gone (removed while its repository was fetched): nothing was queued.
    ProjectGone,
}

/// Records `delivery` of `project` unless it is there: whether it was new.
pub(super) async fn record(
    conn: &mut sqlx::AnyConnection,
    project: &ProjectName,
    delivery: &str,
    at: Millis,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_deliveries (project, delivery, received_at) VALUES ($1, $2, $3) \
         ON CONFLICT (project, delivery) DO NOTHING",
    )
    .bind(project.as_str())
    .bind(delivery)
    .bind(at.as_i64())
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

impl Store {
    /// Whether `delivery` of `project` was handled: a cheap look before the repository is
    /// fetched for a replay. The answer that counts is [`Store::queue_delivered_run`]'s.
    pub async fn delivery_handled(
        &self,
        project: &ProjectName,
        delivery: &str,
    ) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT 1 FROM webhook_deliveries WHERE project = $1 AND delivery = $2")
                .bind(project.as_str())
                .bind(delivery)
                .fetch_optional(self.pool())
                .await
                .map_err(self.query_error("reading a webhook delivery"))?;
        Ok(row.is_some())
    }

    /// [`Store::queue_run`] for a webhook delivery: the delivery id is recorded in the same
    /// transaction, and a delivery recorded before queues nothing.
    pub async fn queue_delivered_run(
        &self,
        new: &NewRun,
        git_ref: Option<&str>,
        repo_url: &str,
        jobs: &[QueuedJob],
        max_attempts: i64,
        delivery: &str,
    ) -> Result<Delivered, StoreError> {
        self.queue_run_once(new, git_ref, repo_url, jobs, max_attempts, Some(delivery))
            .await
    }

    /// Deletes the deliveries received before `before`: the number deleted. A replay of one
    /// of them would start a run again, so `before` is a day ago (the server's housekeeping).
    pub async fn forget_deliveries(&self, before: Millis) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < $1")
            .bind(before.as_i64())
            .execute(self.pool())
            .await
            .map_err(self.query_error("deleting old webhook deliveries"))?;
        Ok(done.rows_affected())
    }
}
