//! Files that are not ours and URLs we cannot use get clear errors, and nothing is written.

use std::path::Path;

use railyard_store::{Store, StoreError};
use railyard_types::error::chain;

use crate::common::data_dir;

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn refused_untouched(content: &[u8]) -> StoreError {
    let dir = data_dir();
    let db = dir.path().join("railyard.db");
    std::fs::write(&db, content).unwrap();
    let err = Store::open_in(dir.path())
        .await
        .expect_err("a file that is not a database is refused");
    let message = err.to_string();
    assert!(
        message.contains(&db.display().to_string()),
        "names the file: {message}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), content, "file untouched");
    assert_eq!(
        listing(dir.path()),
        ["railyard.db"],
        "nothing written beside it"
    );
    err
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_file_is_not_a_database() {
    let err = refused_untouched(&b"name,status\nbuild,ok\n".repeat(400)).await;
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");
    assert!(err.to_string().contains("left untouched"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_database_is_refused() {
    // A real database whose first page is damaged after the header.
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    store
        .create_run(&crate::common::new_run("p", "h:1", &["a"]))
        .await
        .unwrap();
    store.close().await;
    let mut bytes = std::fs::read(dir.path().join("railyard.db")).unwrap();
    for b in &mut bytes[16..] {
        *b = 0xA5;
    }
    let err = refused_untouched(&bytes).await;
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_programs_database_is_refused() {
    let dir = data_dir();
    let db = dir.path().join("railyard.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let content = std::fs::read(&db).unwrap();
    let err = refused_untouched(&content).await;
    assert!(
        matches!(err, StoreError::ForeignDatabase { ref tables, .. } if tables == &["users"]),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_data_folder_that_is_a_file_is_refused() {
    let dir = data_dir();
    let file = dir.path().join("data");
    std::fs::write(&file, "x").unwrap();
    let err = Store::open_in(&file).await.unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err}");
    assert!(
        err.to_string().contains(&file.display().to_string()),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_urls_get_clear_errors() {
    for url in [
        "mysql://root@localhost/ci",
        "sqlite::memory:",
        "sqlite:/tmp/x.db?mode=ro",
        "postgres://u:secret@[::1/db",
        "",
    ] {
        let err = Store::open(url).await.unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StoreError::BadUrl { .. }), "{url}: {message}");
        assert!(message.contains("invalid database URL"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
    let err = Store::open("mysql://root@localhost/ci")
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("unsupported scheme `mysql`"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_postgres_names_the_server_not_the_password() {
    let started = std::time::Instant::now();
    let err = Store::open("postgres://ci:secret@127.0.0.1:9/history")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::Connect { .. }), "{message}");
    assert!(
        message.contains("127.0.0.1:9/history") && !message.contains("secret"),
        "{message}"
    );
    assert!(message.contains("is PostgreSQL running"), "{message}");
    eprintln!("refused after {:?}: {message}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_postgres_password_or_database_is_named() {
    let Some(db) =
        crate::common::PgDb::create("a_wrong_postgres_password_or_database_is_named").await
    else {
        return;
    };
    let (user_part, host_part) = db.url.split_once('@').expect("URL with user@host");
    let (scheme_user, _password) = user_part.rsplit_once(':').expect("URL with a password");
    let wrong = format!("{scheme_user}:not-the-password@{host_part}");
    let err = chain(&Store::open(&wrong).await.unwrap_err());
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");
    let missing = format!("{}_missing", db.url);
    let err = chain(&Store::open(&missing).await.unwrap_err());
    assert!(err.contains("does not exist"), "{err}");
    db.drop_db().await;
}
