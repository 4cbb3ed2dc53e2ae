//! Test timings per project, for splitting test jobs across shards by measured times.
//!
//! Each (project, test id) keeps a moving average of its seconds: the plain mean of the first
//! [`EMA_WARMUP`] samples, then an exponential moving average with weight [`EMA_ALPHA`] on
//! the newest, so a test that got slower shows within a few runs and one noisy run does not
//! throw the plan off. The update is one upsert computed by the database, so shards and
//! servers recording at once never lose a sample. Plain types only: the store does not
//! depend on the crate that splits.

use std::collections::{BTreeMap, HashMap};

use railyard_types::{Millis, ProjectName};
use sqlx::Row;

use crate::runs::param;
use crate::{Store, StoreError};

/// Weight of the newest sample once warmed up.
pub const EMA_ALPHA: f64 = 0.3;
/// Samples averaged plainly before the moving average takes over.
pub const EMA_WARMUP: i64 = 3;
/// Rows per upsert statement (two bound values each).
const CHUNK: usize = 300;

/// One test's stored timing, for `railyard tests`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TestTiming {
    /// The test id as the job's `list` command prints it.
    pub test_id: String,
    /// The moving average in seconds.
    pub avg_secs: f64,
    /// The latest sample in seconds.
    pub last_secs: f64,
    /// How many runs fed the average.
    pub samples: u32,
    /// When the latest sample was recorded.
    pub updated_at: Millis,
}

impl Store {
    /// Records one run's seconds per test id of `project` at `at_ms`. A test given twice
    /// counts once (the last value); negative or non-finite seconds are skipped. Returns how
    /// many tests were recorded.
    pub async fn record_timings(
        &self,
        project: &ProjectName,
        timings: &[(String, f64)],
        at_ms: Millis,
    ) -> Result<usize, StoreError> {
        let clean: BTreeMap<&str, f64> = timings
            .iter()
            .filter(|(_, s)| s.is_finite() && *s >= 0.0)
            .map(|(id, s)| (id.as_str(), *s))
            .collect();
        let rows: Vec<(&str, f64)> = clean.into_iter().collect();
        let err = self.query_error("recording test timings");
        let mut tx = self.pool().begin().await.map_err(&err)?;
        for chunk in rows.chunks(CHUNK) {
            // Each row its own parameters, `?` on SQLite (see `runs::param`): 100,000 tests
            // as `$N` spent seconds in SQLite's look-up of parameter names.
            let backend = self.backend();
            let values: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = |k: usize| param(backend, 5 * i + k);
                    format!("({}, {}, {}, {}, 1, {})", p(1), p(2), p(3), p(4), p(5))
                })
                .collect();
            let sql = format!(
                "INSERT INTO test_timings (project, test_id, avg_secs, last_secs, samples, updated_at) \
                 VALUES {} ON CONFLICT (project, test_id) DO UPDATE SET \
                 avg_secs = CASE WHEN test_timings.samples < {EMA_WARMUP} \
                   THEN (test_timings.avg_secs * test_timings.samples + excluded.avg_secs) / (test_timings.samples + 1) \
                   ELSE test_timings.avg_secs * {keep:?} + excluded.avg_secs * {EMA_ALPHA:?} END, \
                 last_secs = excluded.last_secs, samples = test_timings.samples + 1, \
                 updated_at = excluded.updated_at",
                values.join(", "),
                keep = 1.0 - EMA_ALPHA,
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (id, secs) in chunk {
                query = query
                    .bind(project.as_str())
                    .bind(*id)
                    .bind(*secs)
                    .bind(*secs)
                    .bind(at_ms.as_i64());
            }
            query.execute(&mut *tx).await.map_err(&err)?;
        }
        tx.commit().await.map_err(&err)?;
        Ok(rows.len())
    }

    /// Every stored timing of `project`: test id -> (average seconds, samples).
    pub async fn timings(
        &self,
        project: &ProjectName,
    ) -> Result<HashMap<String, (f64, u32)>, StoreError> {
        let rows =
            sqlx::query("SELECT test_id, avg_secs, samples FROM test_timings WHERE project = $1")
                .bind(project.as_str())
                .fetch_all(self.pool())
                .await
                .map_err(self.query_error("reading test timings"))?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get(0)?;
                let avg: f64 = r.try_get(1)?;
                let samples: i64 = r.try_get(2)?;
                Ok((id, (avg, samples.clamp(0, u32::MAX as i64) as u32)))
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(self.query_error("reading test timings"))
    }

    /// The `limit` slowest tests of `project` by average (ties by id), for `railyard tests`.
    pub async fn tests_history(
        &self,
        project: &ProjectName,
        limit: usize,
    ) -> Result<Vec<TestTiming>, StoreError> {
        let rows = sqlx::query(
            "SELECT test_id, avg_secs, last_secs, samples, updated_at FROM test_timings \
             WHERE project = $1 ORDER BY avg_secs DESC, test_id ASC LIMIT $2",
        )
        .bind(project.as_str())
        .bind(limit.min(i64::MAX as usize) as i64)
        .fetch_all(self.pool())
        .await
        .map_err(self.query_error("reading the test history"))?;
        rows.iter()
            .map(|r| {
                let samples: i64 = r.try_get(3)?;
                Ok(TestTiming {
                    test_id: r.try_get(0)?,
                    avg_secs: r.try_get(1)?,
                    last_secs: r.try_get(2)?,
                    samples: samples.clamp(0, u32::MAX as i64) as u32,
                    updated_at: Millis(r.try_get(4)?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(self.query_error("reading the test history"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same story on any backend: averages, warm-up then EMA, dedup, bad values, order.
    async fn story(store: &Store) {
        let (p, big, conc) = (
            ProjectName::from("shop"),
            ProjectName::from("big"),
            ProjectName::from("conc"),
        );
        let n = store
            .record_timings(
                &p,
                &[
                    ("a".into(), 2.0),
                    ("b".into(), 10.0),
                    ("a".into(), 4.0),
                    ("bad".into(), f64::NAN),
                    ("neg".into(), -1.0),
                ],
                Millis(1000),
            )
            .await
            .unwrap();
        assert_eq!(n, 2, "a once (last value wins), bad values skipped");
        let t = store.timings(&p).await.unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t["a"], (4.0, 1));
        for (i, secs) in [6.0, 8.0].into_iter().enumerate() {
            store
                .record_timings(&p, &[("a".into(), secs)], Millis(2000 + i as i64))
                .await
                .unwrap();
        }
        let t = store.timings(&p).await.unwrap();
        assert!(
            (t["a"].0 - 6.0).abs() < 1e-9,
            "plain mean of 4, 6, 8: {:?}",
            t["a"]
        );
        assert_eq!(t["a"].1, 3);
        store
            .record_timings(&p, &[("a".into(), 16.0)], Millis(3000))
            .await
            .unwrap();
        let t = store.timings(&p).await.unwrap();
        assert!(
            (t["a"].0 - (6.0 * 0.7 + 16.0 * 0.3)).abs() < 1e-9,
            "EMA after warm-up: {:?}",
            t["a"]
        );
        assert_eq!(t["b"], (10.0, 1), "tests not in a run keep their timing");
        assert!(
            store
                .timings(&ProjectName::from("other"))
                .await
                .unwrap()
                .is_empty(),
            "projects are apart"
        );

        // Many tests in one call (several statements) and the slowest-first history.
        let many: Vec<(String, f64)> = (0..1000)
            .map(|i| (format!("t{i:04}"), i as f64 / 100.0))
            .collect();
        assert_eq!(
            store
                .record_timings(&big, &many, Millis(5000))
                .await
                .unwrap(),
            1000
        );
        assert_eq!(store.timings(&big).await.unwrap().len(), 1000);
        let top = store.tests_history(&big, 3).await.unwrap();
        let ids: Vec<&str> = top.iter().map(|t| t.test_id.as_str()).collect();
        assert_eq!(ids, ["t0999", "t0998", "t0997"]);
        assert_eq!(top[0].updated_at, Millis(5000));
        let hist = store.tests_history(&p, 10).await.unwrap();
        assert_eq!(hist[0].test_id, "b");
        assert_eq!((hist[1].last_secs, hist[1].samples), (16.0, 4));

        // Concurrent recorders (shards finishing together) lose no sample.
        let mut tasks = Vec::new();
        for k in 0..8 {
            let (store, conc) = (store.clone(), conc.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .record_timings(&conc, &[("x".into(), 1.0 + k as f64)], Millis(k))
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(store.timings(&conc).await.unwrap()["x"].1, 8);
    }

    #[tokio::test]
    async fn timings_on_a_real_sqlite_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in(dir.path()).await.unwrap();
        story(&store).await;
        store.close().await;
        // Still there after reopening the file.
        let store = Store::open_in(dir.path()).await.unwrap();
        let big = ProjectName::from("big");
        assert_eq!(store.timings(&big).await.unwrap().len(), 1000);
        store.close().await;
    }

    #[tokio::test]
    async fn timings_on_postgres() {
        let Some(db) = crate::test_pg::PgDb::create("timings_on_postgres").await else {
            return;
        };
        let logs = tempfile::tempdir().unwrap();
        let options = crate::StoreOptions {
            logs_dir: Some(logs.path().to_path_buf()),
            ..Default::default()
        };
        let store = Store::open_with(&db.url, &options).await.unwrap();
        story(&store).await;
        store.close().await;
        db.drop_db().await;
    }
}
