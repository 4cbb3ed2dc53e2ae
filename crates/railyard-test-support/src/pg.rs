//! Fresh PostgreSQL databases for tests, on the server named by `RAILYARD_TEST_POSTGRES_URL`
//! (`./scripts/test.sh` starts one; see `scripts/postgres-test-db.sh`): each test gets a
//! database of its own, made next to the URL's and dropped afterwards.

use sqlx::Executor;

/// The variable naming the PostgreSQL server (and a database on it) that tests may use.
pub const PG_ENV: &str = "RAILYARD_TEST_POSTGRES_URL";

/// A database of its own, for async tests: dropped by [`PgDb::drop_db`].
pub struct PgDb {
    admin_url: String,
    name: String,
    /// The URL of this database.
    pub url: String,
}

impl PgDb {
    /// `None` when the variable is unset, after a loud [`crate::skip`] of the PostgreSQL part
    /// of `test`; a panic naming the value when it is set to something that is not a
    /// PostgreSQL URL, so that a broken setup fails loudly.
    pub async fn create(test: &str) -> Option<PgDb> {
        let Ok(admin_url) = std::env::var(PG_ENV) else {
            crate::skip(&format!(
                "{PG_ENV} is unset: no PostgreSQL part of {test} (see scripts/postgres-test-db.sh)"
            ));
            return None;
        };
        assert!(
            admin_url.starts_with("postgres://") || admin_url.starts_with("postgresql://"),
            "{PG_ENV} must be a postgres:// URL, got [{admin_url}]"
        );
        let name = format!(
            "railyard_t_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        admin_sql(&admin_url, &format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("{e} (does the role have CREATEDB?)"));
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

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `sql` as the admin URL's role, on the admin URL's database (to change this one
    /// from outside: `ALTER DATABASE`, ending its connections).
    pub async fn admin_sql(&self, sql: &str) {
        admin_sql(&self.admin_url, sql)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Drops the database, ending its connections.
    pub async fn drop_db(self) {
        // FORCE cannot end an autovacuum worker this role does not own ("must be a member of
        // the role whose process is being terminated"): try again once it is done.
        let sql = format!("DROP DATABASE {} WITH (FORCE)", self.name);
        let mut outcome = Ok(());
        for _ in 0..5 {
            outcome = admin_sql(&self.admin_url, &sql).await;
            if outcome.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        outcome.unwrap_or_else(|e| panic!("{e}"));
    }
}

/// A [`PgDb`] for plain `#[test]`s: made and dropped (with the value) without a runtime of
/// the test's own.
pub struct SyncPgDb {
    db: Option<PgDb>,
    /// The URL of this database.
    pub url: String,
}

impl SyncPgDb {
    /// Like [`PgDb::create`], the test named by its thread.
    pub fn create() -> Option<SyncPgDb> {
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("a test");
        let db = crate::runtime().block_on(PgDb::create(test))?;
        Some(SyncPgDb {
            url: db.url.clone(),
            db: Some(db),
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        self.db().name()
    }

    /// Like [`PgDb::admin_sql`].
    pub fn admin_sql(&self, sql: &str) {
        crate::runtime().block_on(self.db().admin_sql(sql));
    }

    fn db(&self) -> &PgDb {
        self.db.as_ref().expect("dropped only by Drop")
    }
}

impl Drop for SyncPgDb {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            // Not the test's failure (and no panic while one unwinds): a leftover database is
            // visible by its name.
            let name = db.name.clone();
            let dropped = std::thread::spawn(move || crate::runtime().block_on(db.drop_db()));
            if dropped.join().is_err() {
                eprintln!("warning: the test database {name} was not dropped");
            }
        }
    }
}

async fn admin_sql(admin_url: &str, sql: &str) -> Result<(), String> {
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(admin_url)
        .await
        .map_err(|e| format!("connect to the test PostgreSQL at {admin_url}: {e}"))?;
    let done = admin.execute(sqlx::AssertSqlSafe(sql.to_owned())).await;
    admin.close().await;
    done.map(|_| ()).map_err(|e| format!("{sql}: {e}"))
}
