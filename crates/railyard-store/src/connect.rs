//! Opening a store: reading the URL, refusing files that are not ours before writing a byte,
//! connecting the pool and applying the backend's migrations.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::{AnyPool, ConnectOptions, Connection, Row};

use crate::{Inner, Store, StoreError, StoreOptions};

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file (one machine).
    Sqlite,
    /// A PostgreSQL server (a fleet of servers sharing one database).
    Postgres,
}

/// How long to wait for PostgreSQL to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

pub(crate) enum Target {
    Sqlite { path: PathBuf },
    Postgres { url: String, shown: String },
}

/// Reads `sqlite:PATH`, `sqlite://PATH`, a bare path, or `postgres(ql)://…`.
pub(crate) fn parse_target(url: &str) -> Result<Target, StoreError> {
    let bad = |reason: &str| StoreError::BadUrl {
        url: hide_password(url),
        reason: reason.to_owned(),
    };
    let url = url.trim();
    if url.is_empty() {
        return Err(bad("it is empty"));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let options: sqlx::any::AnyConnectOptions = url.parse().map_err(|e: sqlx::Error| {
            let e = e.to_string();
            bad(e.strip_prefix("error with configuration: ").unwrap_or(&e))
        })?;
        let mut shown = options.to_url_lossy();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("***"));
        }
        if shown.host_str().is_none_or(str::is_empty) {
            return Err(StoreError::BadUrl {
                url: shown.to_string(),
                reason: "it names no host".into(),
            });
        }
        return Ok(Target::Postgres {
            url: url.to_owned(),
            shown: shown.to_string(),
        });
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite:") {
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        if rest.contains('?') {
            return Err(bad(
                "SQLite URLs take no `?` options here; give the path alone",
            ));
        }
        if rest.is_empty() || rest.contains(":memory:") {
            return Err(bad(
                "an in-memory or empty SQLite path keeps no history; give a file path",
            ));
        }
        rest
    } else if let Some((scheme, _)) = url.split_once("://") {
        return Err(bad(&format!("unsupported scheme `{scheme}`")));
    } else {
        url
    };
    let path = std::path::absolute(path).map_err(|e| bad(&e.to_string()))?;
    Ok(Target::Sqlite { path })
}

/// `scheme://user:password@host…` with the password replaced, even when the URL is malformed.
fn hide_password(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let Some(at) = url[start..].rfind('@').map(|i| start + i) else {
        return url.to_owned();
    };
    match url[start..at].find(':').map(|i| start + i) {
        Some(colon) => format!("{}:***{}", &url[..colon], &url[at..]),
        None => url.to_owned(),
    }
}

pub(crate) async fn open(target: Target, options: &StoreOptions) -> Result<Store, StoreError> {
    sqlx::any::install_default_drivers();
    match target {
        Target::Sqlite { path } => open_sqlite(path, options).await,
        Target::Postgres { url, shown } => open_postgres(&url, shown, options).await,
    }
}

async fn open_sqlite(path: PathBuf, options: &StoreOptions) -> Result<Store, StoreError> {
    let location = path.display().to_string();
    let dir = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    create_dir(&dir)?;
    let connect_error = |source: sqlx::Error| match not_a_database(&source) {
        Some(detail) => StoreError::NotADatabase {
            path: path.clone(),
            detail,
        },
        None => StoreError::Connect {
            location: location.clone(),
            hint: " (check that the folder is writable and the path is a file)",
            source,
        },
    };
    let url = sqlite_url(&path);

    // Look before writing, on one plain connection (the pool would retry a failing file
    // until its timeout and hide the cause): a file that is not a database, or another
    // program's database, is refused untouched.
    let mut first = sqlx::AnyConnection::connect(&url)
        .await
        .map_err(connect_error)?;
    let tables: Vec<String> =
        sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&mut first)
            .await
            .map_err(connect_error)?
            .iter()
            .map(|row| row.get::<String, _>(0))
            .collect();
    let _ = first.close().await;
    if !tables.is_empty() && !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Err(StoreError::ForeignDatabase {
            path,
            tables: tables.into_iter().take(5).collect(),
        });
    }

    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(4))
        // With WAL, NORMAL loses nothing when a process dies (only a power cut may lose the
        // last commits) and spares an fsync per event (measured 0.43 → 0.16 ms an event).
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("PRAGMA synchronous = NORMAL")
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .acquire_timeout(Duration::from_secs(30))
        .connect(&url)
        .await
        .map_err(connect_error)?;

    // Readers (`railyard runs`) need not wait for a run that is writing. The mode stays with
    // the file, so this switches once; if another process holds the file then, it stays as
    // it is until a later open.
    let mode: Option<String> = sqlx::query("PRAGMA journal_mode")
        .fetch_optional(&pool)
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get(0).ok());
    if !mode.is_some_and(|m| m.eq_ignore_ascii_case("wal")) {
        let _ = sqlx::query("PRAGMA journal_mode = WAL")
            .fetch_optional(&pool)
            .await;
    }

    // Two processes opening a new file at once would both try to create the tables; sqlx
    // takes no lock on SQLite, so hold one of our own while migrating.
    let lock = lock_file(&path).await.map_err(|source| StoreError::Log {
        doing: "lock",
        path: lock_path(&path),
        source,
    })?;
    let migrated = SQLITE_MIGRATIONS.run(&pool).await;
    drop(lock);
    migrated.map_err(|source| migrate_error(location.clone(), source))?;

    let logs_dir = match &options.logs_dir {
        Some(dir) => dir.clone(),
        None => dir.join(crate::LOGS_DIR_NAME),
    };
    Ok(store(
        pool,
        crate::Backend::Sqlite,
        location,
        logs_dir,
        options,
    ))
}

async fn open_postgres(
    url: &str,
    shown: String,
    options: &StoreOptions,
) -> Result<Store, StoreError> {
    let connect_error = |source| StoreError::Connect {
        location: shown.clone(),
        hint: " (is PostgreSQL running, and are the URL's host, user, password and database right?)",
        source,
    };
    // One plain connection first: the pool would retry a refused connection until its
    // timeout and then report only "pool timed out", hiding the cause.
    let first = tokio::time::timeout(CONNECT_TIMEOUT, sqlx::AnyConnection::connect(url))
        .await
        .map_err(|_| {
            let timeout = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()),
            );
            connect_error(sqlx::Error::Io(timeout))
        })?
        .map_err(connect_error)?;
    let _ = first.close().await;
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_connections.unwrap_or(10))
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(url)
        .await
        .map_err(connect_error)?;
    // sqlx holds an advisory lock while migrating, so servers starting together take turns.
    POSTGRES_MIGRATIONS
        .run(&pool)
        .await
        .map_err(|source| migrate_error(shown.clone(), source))?;
    let logs_dir = match &options.logs_dir {
        Some(dir) => dir.clone(),
        None => std::path::absolute("railyard-logs").unwrap_or_else(|_| "railyard-logs".into()),
    };
    Ok(store(
        pool,
        crate::Backend::Postgres,
        shown,
        logs_dir,
        options,
    ))
}

fn store(
    pool: AnyPool,
    backend: Backend,
    location: String,
    logs_dir: PathBuf,
    options: &StoreOptions,
) -> Store {
    Store {
        inner: Arc::new(Inner {
            pool,
            backend,
            location,
            logs_dir,
            max_log_bytes: options.max_log_bytes,
        }),
    }
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })
}

/// sqlx reads `sqlite://` + a percent-encoded path; `mode=rwc` creates a missing file.
fn sqlite_url(path: &Path) -> String {
    let mut url = String::from("sqlite://");
    for &b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    url
}

/// SQLite's "file is not a database" (SQLITE_NOTADB, 26) and "database disk image is
/// malformed" (SQLITE_CORRUPT, 11): the file is not something we may write to.
fn not_a_database(error: &sqlx::Error) -> Option<String> {
    let db = error.as_database_error()?;
    let code = db.code()?;
    let primary = code.parse::<i64>().ok()? & 0xff;
    matches!(primary, 11 | 26).then(|| db.message().to_owned())
}

fn migrate_error(location: String, source: MigrateError) -> StoreError {
    let hint = match source {
        MigrateError::VersionMissing(_) | MigrateError::VersionTooNew(..) => {
            " (the database was updated by a newer Railyard: use that version)"
        }
        MigrateError::VersionMismatch(_) => {
            " (a schema file changed after it was applied: this Railyard build does not match the database)"
        }
        _ => "",
    };
    StoreError::Migrate {
        location,
        hint,
        source,
    }
}

fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push("-migrate.lock");
    db.with_file_name(name)
}

/// An exclusive advisory lock on `<db>-migrate.lock`, released when dropped.
async fn lock_file(db: &Path) -> std::io::Result<std::fs::File> {
    let path = lock_path(db);
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)?
}

impl Store {
    /// The migrations of this build that the database has not applied (empty when it holds
    /// them all): what a server's readiness check asks, in one query that also proves the
    /// database answers.
    pub async fn missing_migrations(&self) -> Result<Vec<i64>, StoreError> {
        let err = self.query_error("reading the applied migrations");
        let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success")
            .fetch_all(self.pool())
            .await
            .map_err(&err)?;
        let applied: std::collections::HashSet<i64> = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        let ours = match self.backend() {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        Ok(ours
            .iter()
            .filter(|m| !m.migration_type.is_down_migration())
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        let sqlite = |s: &str| match parse_target(s) {
            Ok(Target::Sqlite { path }) => path,
            _ => panic!("{s} should be SQLite"),
        };
        assert_eq!(sqlite("sqlite:/tmp/a.db"), Path::new("/tmp/a.db"));
        assert_eq!(sqlite("sqlite:///tmp/a.db"), Path::new("/tmp/a.db"));
        assert_eq!(sqlite("/tmp/x y.db"), Path::new("/tmp/x y.db"));
        assert!(sqlite("rel/a.db").is_absolute());
        match parse_target("postgres://u:secret@localhost/db").unwrap() {
            Target::Postgres { shown, .. } => {
                assert!(!shown.contains("secret"), "{shown}");
                assert!(shown.contains("localhost/db"));
            }
            _ => panic!("postgres"),
        }
        for bad in [
            "",
            "mysql://x/y",
            "sqlite::memory:",
            "sqlite:/a.db?mode=ro",
            "postgres://",
        ] {
            let err = parse_target(bad)
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(matches!(err, StoreError::BadUrl { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            hide_password("postgres://u:p@ss@[::1/db"),
            "postgres://u:***@[::1/db"
        );
        assert_eq!(hide_password("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(hide_password("/a@b:c"), "/a@b:c");
    }

    #[test]
    fn url_encoding() {
        assert_eq!(
            sqlite_url(Path::new("/a b/c?#%.db")),
            "sqlite:///a%20b/c%3F%23%25.db?mode=rwc"
        );
    }
}
