//! Helpers: temp SQLite stores, fresh PostgreSQL databases, a clock.

use railyard_store::{NewRun, Store};
use sqlx::Executor;

pub const PG_ENV: &str = "RAILYARD_TEST_POSTGRES_URL";

/// A fresh, empty SQLite data folder.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("railyard-store-")
        .tempdir()
        .expect("temp dir")
}

/// A database of its own on the server named by `RAILYARD_TEST_POSTGRES_URL`, dropped by
/// [`PgDb::drop_db`]. `None` (with a note printed) when the variable is unset.
pub struct PgDb {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDb {
    pub async fn create(test: &str) -> Option<PgDb> {
        let Ok(admin_url) = std::env::var(PG_ENV) else {
            eprintln!(
                "note: {PG_ENV} is unset, skipping the PostgreSQL part of {test} (see scripts/postgres-test-db.sh)"
            );
            return None;
        };
        sqlx::any::install_default_drivers();
        let name = format!(
            "railyard_t_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let admin = sqlx::AnyPool::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create a test database (does the role have CREATEDB?)");
        admin.close().await;
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin_url.as_str(), String::new()),
        };
        let base = &base[..base.rfind('/').expect("URL has a database path")];
        let url = format!("{base}/{name}{query}");
        Some(PgDb {
            admin_url,
            name,
            url,
        })
    }

    pub async fn drop_db(self) {
        let admin = sqlx::AnyPool::connect(&self.admin_url)
            .await
            .expect("connect");
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE {} WITH (FORCE)",
                self.name
            )))
            .await
            .expect("drop the test database");
        admin.close().await;
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn new_run(project: &str, owner: &str, jobs: &[&str]) -> NewRun {
    NewRun {
        project: project.into(),
        pipeline_path: ".railyard.yml".into(),
        commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
        owner: owner.into(),
        jobs: jobs.iter().map(|j| j.to_string()).collect(),
        started_at: now_ms(),
    }
}

/// Opens a Postgres store with its logs in `logs`.
pub async fn open_pg(url: &str, logs: &std::path::Path) -> Store {
    let options = railyard_store::StoreOptions {
        logs_dir: Some(logs.to_path_buf()),
        ..Default::default()
    };
    Store::open_with(url, &options)
        .await
        .expect("open PostgreSQL store")
}
