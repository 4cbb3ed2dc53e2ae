//! Reading the history back (`railyard runs`, `railyard logs RUN`) and tidying runs whose
//! process died.

use railyard_types::records::JobAttempt;
use railyard_types::{JobStatus, Millis, ProjectName, UserName};
use std::collections::HashMap;

use railyard_types::RunStatus;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::records::{RunDetail, RunRecord, run_columns};
use crate::runs::close_unfinished;
use crate::{Store, StoreError};

/// How many runs an ambiguous reference lists.
const CANDIDATES: i64 = 6;

impl Store {
    /// The newest runs first, of one project or all; `limit` 0 means no limit.
    pub async fn list_runs(
        &self,
        project: Option<&ProjectName>,
        limit: u32,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let seen = project.map_or(Seen::All, Seen::Project);
        self.list_runs_seen(seen, limit).await
    }

    /// The newest runs first of the projects in `seen`; `limit` 0 means no limit.
    pub async fn list_runs_seen(
        &self,
        seen: Seen<'_>,
        limit: u32,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let limit = if limit == 0 {
            i64::MAX
        } else {
            i64::from(limit)
        };
        let sql = format!(
            "SELECT {} FROM runs WHERE {} ORDER BY started_at DESC, number DESC, id DESC LIMIT $2",
            run_columns!(),
            seen.condition("project")
        );
        // Safe: the text is ours; the values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(seen.value())
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(self.query_error("listing runs"))?;
        self.runs_from_rows(&rows)
    }

    /// A run with its jobs and steps, by ULID, ULID prefix (any case), or per-project number
    /// (`12`, `#12`). `project` narrows the search; without it a number shared by several
    /// projects' runs, like a prefix shared by several runs, is [`StoreError::AmbiguousRun`].
    pub async fn find_run(
        &self,
        project: Option<&ProjectName>,
        id_or_number: &str,
    ) -> Result<Option<RunDetail>, StoreError> {
        let reference = id_or_number.trim();
        let (hashed, rest) = match reference.strip_prefix('#') {
            Some(rest) => (true, rest.trim()),
            None => (false, reference),
        };
        let mut found = Vec::new();
        let number = rest
            .parse::<i64>()
            .ok()
            .filter(|_| rest.bytes().all(|b| b.is_ascii_digit()));
        if let Some(number) = number {
            found = self
                .runs_by_number(project.map(ProjectName::as_str), number)
                .await?;
        }
        if found.is_empty() && !hashed && is_ulid_prefix(rest) {
            let prefix = rest.to_ascii_uppercase();
            found = self
                .runs_by_prefix(project.map(ProjectName::as_str), &prefix)
                .await?;
            if let Some(exact) = found.iter().position(|r| r.id == prefix) {
                found = vec![found.swap_remove(exact)];
            }
        }
        match found.len() {
            0 => Ok(None),
            1 => {
                let run = found.pop().expect("one run");
                self.run_detail(run).await.map(Some)
            }
            _ => Err(StoreError::AmbiguousRun {
                reference: reference.to_owned(),
                candidates: found
                    .iter()
                    .map(|r| format!("{} #{} ({})", r.project, r.number, r.id))
                    .collect(),
            }),
        }
    }

    /// Runs still `running` or `queued` whose owner is dead (`is_alive(owner)` is false)
    /// become `abandoned` (ended now), their unfinished jobs and steps `cancelled`; returns
    /// them as they are now. `is_alive` should say true for owners it cannot check (another
    /// host). Safe against another process doing the same at once: each run is taken once.
    pub async fn abandon_dead_runs(
        &self,
        is_alive: &(dyn Fn(&str) -> bool + Sync),
    ) -> Result<Vec<RunRecord>, StoreError> {
        let err = self.query_error("abandoning runs of dead processes");
        let rows = sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE status IN ($1, $2) ORDER BY started_at"
        ))
        .bind(RunStatus::Running.as_str())
        .bind(RunStatus::Queued.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let now = Millis::now();
        let mut abandoned = Vec::new();
        for mut run in self.runs_from_rows(&rows)? {
            if is_alive(&run.owner) {
                continue;
            }
            let mut tx = self.pool().begin().await.map_err(&err)?;
            let done = sqlx::query(
                "UPDATE runs SET status = $2, finished_at = $3 WHERE id = $1 AND status IN ($4, $5)",
            )
            .bind(run.id.as_str())
            .bind(RunStatus::Abandoned.as_str())
            .bind(now.as_i64())
            .bind(RunStatus::Running.as_str())
            .bind(RunStatus::Queued.as_str())
            .execute(&mut *tx)
            .await
            .map_err(&err)?;
            if done.rows_affected() == 0 {
                continue; // someone else took it
            }
            close_unfinished(&mut tx, &run.id, Some(now))
                .await
                .map_err(&err)?;
            tx.commit().await.map_err(&err)?;
            run.status = RunStatus::Abandoned;
            run.finished_at = Some(now);
            abandoned.push(run);
        }
        Ok(abandoned)
    }

    async fn runs_by_number(
        &self,
        project: Option<&str>,
        number: i64,
    ) -> Result<Vec<RunRecord>, StoreError> {
        let rows = match project {
            Some(project) => {
                sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs WHERE project = $1 AND number = $2"
                ))
                .bind(project)
                .bind(number)
                .fetch_all(self.pool())
                .await
            }
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs WHERE number = $1 ORDER BY started_at DESC LIMIT $2"
                ))
                .bind(number)
                .bind(CANDIDATES)
                .fetch_all(self.pool())
                .await
            }
        }
        .map_err(self.query_error("finding a run by number"))?;
        self.runs_from_rows(&rows)
    }

    async fn runs_by_prefix(
        &self,
        project: Option<&str>,
        prefix: &str,
    ) -> Result<Vec<RunRecord>, StoreError> {
        // Only ULID characters get here, so the pattern needs no escaping.
        let pattern = format!("{prefix}%");
        let rows = match project {
            Some(project) => {
                sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs WHERE project = $1 AND id LIKE $2 ORDER BY id LIMIT $3"
                ))
                .bind(project)
                .bind(pattern)
                .bind(CANDIDATES)
                .fetch_all(self.pool())
                .await
            }
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    run_columns!(),
                    " FROM runs WHERE id LIKE $1 ORDER BY id LIMIT $2"
                ))
                .bind(pattern)
                .bind(CANDIDATES)
                .fetch_all(self.pool())
                .await
            }
        }
        .map_err(self.query_error("finding a run by id"))?;
        self.runs_from_rows(&rows)
    }

    async fn run_detail(&self, run: RunRecord) -> Result<RunDetail, StoreError> {
        let err = self.query_error("reading a run's jobs");
        let job_rows = sqlx::query(
            "SELECT name, status, started_at, finished_at, env_key, env_image_id, error, \
             built_image_ref, built_image_digest, env_image_digest \
             FROM jobs WHERE run_id = $1 ORDER BY position, name",
        )
        .bind(run.id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let mut jobs = job_rows
            .iter()
            .map(|row| self.job_from_row(row))
            .collect::<Result<Vec<_>, _>>()?;
        let by_name: HashMap<String, usize> = jobs
            .iter()
            .enumerate()
            .map(|(i, j)| (j.name.clone(), i))
            .collect();
        let step_rows = sqlx::query(
            "SELECT job_name, step_index, command, status, exit_code, started_at, finished_at \
             FROM steps WHERE run_id = $1 ORDER BY step_index",
        )
        .bind(run.id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        for row in &step_rows {
            let (job, step) = self.step_from_row(row)?;
            if let Some(&i) = by_name.get(&job) {
                jobs[i].steps.push(step);
            }
        }
        let earlier = sqlx::query(
            "SELECT run_attempt, job_name, status, started_at, finished_at, error \
             FROM job_attempts WHERE run_id = $1 ORDER BY run_attempt, job_name",
        )
        .bind(run.id.as_str())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        let earlier_attempts = (earlier.iter())
            .map(|r| {
                let status: String = r.try_get(2).map_err(&err)?;
                Ok(JobAttempt {
                    attempt: r.try_get(0).map_err(&err)?,
                    job: r.try_get(1).map_err(&err)?,
                    status: JobStatus::parse(&status)
                        .ok_or_else(|| self.corrupt("job status", status.clone()))?,
                    started_at: r.try_get::<Option<i64>, _>(3).map_err(&err)?.map(Millis),
                    finished_at: r.try_get::<Option<i64>, _>(4).map_err(&err)?.map(Millis),
                    error: r.try_get(5).map_err(&err)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(RunDetail {
            run,
            jobs,
            earlier_attempts,
        })
    }

    fn runs_from_rows(&self, rows: &[AnyRow]) -> Result<Vec<RunRecord>, StoreError> {
        rows.iter().map(|row| self.run_from_row(row)).collect()
    }
}

/// ULIDs are Crockford base32: digits and upper-case letters but I, L, O and U.
fn is_ulid_prefix(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 26
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_alphabetic() && !b"IiLlOoUu".contains(&b)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn ulid_prefixes() {
        assert!(super::is_ulid_prefix("01kb3"));
        assert!(super::is_ulid_prefix(&ulid::Ulid::new().to_string()));
        assert!(!super::is_ulid_prefix("01KB-"));
        assert!(!super::is_ulid_prefix("hello"));
        assert!(!super::is_ulid_prefix(""));
    }
}

/// Whose projects a listing shows: every project, one, or those a person has a role in.
/// Filtered in the query, so a `LIMIT` counts only what the reader may see.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// Every project's.
    All,
    /// One project's.
    Project(&'a ProjectName),
    /// The projects this person has a role in.
    Member(&'a UserName),
}

impl Seen<'_> {
    /// The condition on `column` (a project name), with the value as `$1`.
    pub(crate) fn condition(&self, column: &str) -> String {
        match self {
            // `$1` is NULL here: still named, as every backend wants each bound value used.
            Seen::All => "$1 IS NULL".into(),
            Seen::Project(_) => format!("{column} = $1"),
            Seen::Member(_) => format!(
                "{column} IN (SELECT pr.project FROM project_roles pr WHERE pr.user_name = $1)"
            ),
        }
    }

    /// What `$1` is.
    pub(crate) fn value(&self) -> Option<&str> {
        match self {
            Seen::All => None,
            Seen::Project(p) => Some(p.as_str()),
            Seen::Member(u) => Some(u.as_str()),
        }
    }
}
