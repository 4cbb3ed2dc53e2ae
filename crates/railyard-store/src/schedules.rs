//! Cron schedules (migration 0030). The store keeps each schedule's next fire time; the
//! server's scheduler asks what is due, claims each due one by moving its next time on with
//! a compare-and-set ([`Store::claim_schedule`]), and starts a run only when its update
//! changed the row: of several servers on one database, exactly one starts each fire time's
//! run. The cron expression is the server's to read; the store only compares times.

use railyard_types::schedules::ScheduleInfo;
use railyard_types::{Millis, ProjectName, RunId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Store, StoreError};

/// A schedule to add.
#[derive(Debug, Clone)]
pub struct NewSchedule<'a> {
    /// Its project (must exist).
    pub project: &'a ProjectName,
    /// Its name within the project.
    pub name: &'a str,
    /// The cron expression, as given.
    pub cron: &'a str,
    /// The ref each fire runs.
    pub git_ref: &'a str,
    /// Its first fire time.
    pub next_at: Millis,
    /// Who adds it.
    pub created_by: &'a str,
    /// When.
    pub created_at: Millis,
}

/// What adding a schedule came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleAdded {
    /// Stored.
    Added(Box<ScheduleInfo>),
    /// The project has a schedule of that name: nothing stored.
    NameTaken,
    /// No such project: nothing stored.
    NoProject,
}

const COLUMNS: &str = "id, project, name, cron, git_ref, next_at, last_fired_at, last_run_id, \
                       last_error, created_by, created_at";

impl Store {
    /// Adds a schedule unless its project is gone or already has one of that name, in one
    /// statement (a project removed meanwhile gets none).
    pub async fn add_schedule(&self, new: &NewSchedule<'_>) -> Result<ScheduleAdded, StoreError> {
        let err = self.query_error("adding a schedule");
        let id = ulid::Ulid::new().to_string();
        // `WHERE` on the `SELECT`: SQLite reads `ON CONFLICT` after a bare `FROM` as a join's.
        let done = sqlx::query(
            "INSERT INTO schedules (id, project, name, cron, git_ref, next_at, created_by, \
             created_at) SELECT $1, p.name, $3, $4, $5, $6, $7, $8 FROM projects p \
             WHERE p.name = $2 ON CONFLICT (project, name) DO NOTHING",
        )
        .bind(&id)
        .bind(new.project.as_str())
        .bind(new.name)
        .bind(new.cron)
        .bind(new.git_ref)
        .bind(new.next_at.as_i64())
        .bind(new.created_by)
        .bind(new.created_at.as_i64())
        .execute(self.pool())
        .await
        .map_err(&err)?;
        if done.rows_affected() == 1 {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM schedules WHERE id = $1"
            )))
            .bind(&id)
            .fetch_one(self.pool())
            .await
            .map_err(&err)?;
            return Ok(ScheduleAdded::Added(Box::new(
                from_row(&row).map_err(&err)?,
            )));
        }
        Ok(if self.project(new.project).await?.is_some() {
            ScheduleAdded::NameTaken
        } else {
            ScheduleAdded::NoProject
        })
    }

    /// The schedules of `project`, or of every project, by project and name.
    pub async fn schedules(
        &self,
        project: Option<&ProjectName>,
    ) -> Result<Vec<ScheduleInfo>, StoreError> {
        let seen = project.map_or(crate::Seen::All, crate::Seen::Project);
        self.schedules_seen(seen).await
    }

    /// The schedules of the projects in `seen`, by project and name.
    pub async fn schedules_seen(
        &self,
        seen: crate::Seen<'_>,
    ) -> Result<Vec<ScheduleInfo>, StoreError> {
        let err = self.query_error("listing schedules");
        // Safe: the text is ours; the values are bound.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM schedules WHERE {} ORDER BY project, name",
            seen.condition("project")
        )))
        .bind(seen.value())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        infos(&rows).map_err(&err)
    }

    /// Removes a schedule; false when the project has none of that name.
    pub async fn remove_schedule(
        &self,
        project: &ProjectName,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM schedules WHERE project = $1 AND name = $2")
            .bind(project.as_str())
            .bind(name)
            .execute(self.pool())
            .await
            .map_err(self.query_error("removing a schedule"))?;
        Ok(done.rows_affected() == 1)
    }

    /// The schedules due at `now` (their next time at or before it), the most overdue first.
    pub async fn due_schedules(&self, now: Millis) -> Result<Vec<ScheduleInfo>, StoreError> {
        let err = self.query_error("listing due schedules");
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM schedules WHERE next_at <= $1 ORDER BY next_at, id LIMIT 100"
        )))
        .bind(now.as_i64())
        .fetch_all(self.pool())
        .await
        .map_err(&err)?;
        infos(&rows).map_err(&err)
    }

    /// The earliest next fire time of any schedule, if there is one.
    pub async fn next_schedule_at(&self) -> Result<Option<Millis>, StoreError> {
        let err = self.query_error("reading the next fire time");
        let row = sqlx::query("SELECT MIN(next_at) FROM schedules")
            .fetch_one(self.pool())
            .await
            .map_err(&err)?;
        Ok(row.try_get::<Option<i64>, _>(0).map_err(&err)?.map(Millis))
    }

    /// Claims a schedule's fire at `was` (its `next_at` as read) by moving its next time to
    /// `next` and noting `fired_at`, only if no one moved it first: true for the one caller
    /// whose update changed the row, who then starts the run.
    pub async fn claim_schedule(
        &self,
        id: &str,
        was: Millis,
        next: Millis,
        fired_at: Millis,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE schedules SET next_at = $3, last_fired_at = $4 WHERE id = $1 AND next_at = $2",
        )
        .bind(id)
        .bind(was.as_i64())
        .bind(next.as_i64())
        .bind(fired_at.as_i64())
        .execute(self.pool())
        .await
        .map_err(self.query_error("claiming a schedule's fire"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Records how a claimed fire went: the run it started, or why it started none.
    pub async fn record_schedule_fire(
        &self,
        id: &str,
        outcome: Result<&RunId, &str>,
    ) -> Result<(), StoreError> {
        let (run, error) = match outcome {
            Ok(run) => (Some(run.as_str()), None),
            Err(error) => (None, Some(error)),
        };
        // A failed start keeps the last run that did start: `list` shows both.
        sqlx::query(
            "UPDATE schedules SET last_run_id = COALESCE($2, last_run_id), last_error = $3 \
             WHERE id = $1",
        )
        .bind(id)
        .bind(run)
        .bind(error)
        .execute(self.pool())
        .await
        .map_err(self.query_error("recording a schedule's fire"))?;
        Ok(())
    }
}

fn infos(rows: &[AnyRow]) -> Result<Vec<ScheduleInfo>, sqlx::Error> {
    rows.iter().map(from_row).collect()
}

fn from_row(row: &AnyRow) -> Result<ScheduleInfo, sqlx::Error> {
    Ok(ScheduleInfo {
        id: row.try_get("id")?,
        project: ProjectName::from(row.try_get::<String, _>("project")?),
        name: row.try_get("name")?,
        cron: row.try_get("cron")?,
        git_ref: row.try_get("git_ref")?,
        next_at: Millis(row.try_get("next_at")?),
        last_fired_at: row.try_get::<Option<i64>, _>("last_fired_at")?.map(Millis),
        last_run_id: row.try_get("last_run_id")?,
        last_error: row.try_get("last_error")?,
        created_by: row.try_get("created_by")?,
        created_at: Millis(row.try_get("created_at")?),
    })
}
