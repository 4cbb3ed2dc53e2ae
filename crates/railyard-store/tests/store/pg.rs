//! Fresh PostgreSQL databases for tests, on the server named by `RAILYARD_TEST_POSTGRES_URL`
//! (see `scripts/postgres-test-db.sh`). Shared by the store's unit tests (through `#[path]`)
//! and its integration tests, so that there is one way to make and drop a test database.

use sqlx::Executor;

pub const PG_ENV: &str = "RAILYARD_TEST_POSTGRES_URL";

/// A database of its own, dropped by [`PgDb::drop_db`].
pub struct PgDb {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDb {
    /// `None` (with a note) when the variable is unset; a panic naming the value when it is set
    /// to something that is not a PostgreSQL URL, so that a broken setup fails loudly.
    pub async fn create(test: &str) -> Option<PgDb> {
        let Ok(admin_url) = std::env::var(PG_ENV) else {
            railyard_test_support::skip(&format!(
                "{PG_ENV} is unset: no PostgreSQL part of {test} (see scripts/postgres-test-db.sh)"
            ));
            return None;
        };
        assert!(
            admin_url.starts_with("postgres://") || admin_url.starts_with("postgresql://"),
            "{PG_ENV} must be a postgres:// URL, got [{admin_url}]"
        );
        sqlx::any::install_default_drivers();
        let name = format!(
            "railyard_t_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let admin = sqlx::AnyPool::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect to the test PostgreSQL at {admin_url}: {e}"));
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
        // FORCE cannot end an autovacuum worker this role does not own ("must be a member of
        // the role whose process is being terminated"): try again once it is done.
        let sql = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        let mut outcome = Ok(());
        for _ in 0..5 {
            outcome = admin
                .execute(sqlx::AssertSqlSafe(sql.clone()))
                .await
                .map(|_| ());
            if outcome.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        outcome.expect("drop the test database");
        admin.close().await;
    }
}
