//! The audit trail: one row per state change, who made it and when. Only ever appended.

use railyard_types::people::AuditEntry;
use railyard_types::{Millis, ProjectName};
use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// Appends one entry (its id a ULID, so entries of one millisecond keep their order).
    pub async fn record_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit (id, at, actor, action, project, target, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ulid::Ulid::new().to_string())
        .bind(entry.at.as_i64())
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(entry.project.as_ref().map(|p| p.as_str()))
        .bind(entry.target.as_deref())
        .bind(entry.detail.as_deref())
        .execute(self.pool())
        .await
        .map_err(self.query_error("writing the audit trail"))?;
        Ok(())
    }

    /// The newest `limit` entries, of one project or of all.
    pub async fn audit(
        &self,
        project: Option<&ProjectName>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let err = self.query_error("reading the audit trail");
        sqlx::query(
            "SELECT at, actor, action, project, target, detail FROM audit \
             WHERE ($1 IS NULL OR project = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(project.map(|p| p.as_str()))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await
        .map_err(&err)?
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                at: Millis(r.try_get(0)?),
                actor: r.try_get(1)?,
                action: r.try_get(2)?,
                project: r.try_get::<Option<String>, _>(3)?.map(ProjectName::from),
                target: r.try_get(4)?,
                detail: r.try_get(5)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(&err)
    }
}
