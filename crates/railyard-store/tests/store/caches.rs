//! Caches shared through the server: a lookup prefers the exact key of the run's scope, then
//! of the shared scope, then the newest of the prefix; an upload replaces its key whole and
//! drops the project's least recently used caches past the budget; a project's protected
//! refs are stored. On SQLite, and on PostgreSQL when available.

use railyard_store::{CacheEntry, Store};
use railyard_types::{Millis, ProjectName};

use crate::common::{PgDb, data_dir, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn caches_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    caches(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn caches_on_postgres() {
    let Some(db) = PgDb::create("caches_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    caches(&store).await;
    store.close().await;
    db.drop_db().await;
}

/// Stores `bytes` as cache `pip` with this scope and key (prefix `pip-`) at time `at`;
/// returns the keys dropped.
async fn put(store: &Store, scope: &str, key: &str, bytes: &[u8], at: i64) -> Vec<String> {
    let project = ProjectName::from("c");
    let mut upload = store.begin_cache();
    for chunk in bytes.chunks(3) {
        upload.write(chunk, Millis(at)).await.unwrap();
    }
    let entry = CacheEntry {
        project: &project,
        scope,
        name: "pip",
        key,
        prefix: Some("pip-"),
    };
    let dropped = upload.finish(&entry, 20, Millis(at)).await.unwrap();
    let Some(dropped) = dropped else {
        return vec!["refused".into()];
    };
    dropped
        .into_iter()
        .map(|c| format!("{}/{}", c.scope, c.key))
        .collect()
}

async fn read(store: &Store, upload_id: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut seq = 0;
    while let Some(chunk) = store.cache_chunk(upload_id, seq).await.unwrap() {
        out.extend(chunk);
        seq += 1;
    }
    out
}

async fn caches(store: &Store) {
    let project = ProjectName::from("c");
    store
        .add_project(&project, "file:///r.git", Millis(1))
        .await
        .unwrap();
    assert!(store.protected_refs(&project).await.unwrap().is_empty());
    let refs = vec!["main".to_string(), "release/*".to_string()];
    assert!(store.set_protected_refs(&project, &refs).await.unwrap());
    assert_eq!(store.protected_refs(&project).await.unwrap(), refs);
    assert!(
        !store
            .set_protected_refs(&"nope".into(), &refs)
            .await
            .unwrap()
    );

    let find = |scope: &'static str, key: &'static str, at: i64| async move {
        let p = ProjectName::from("c");
        let found = store.find_cache(&p, scope, "pip", key, Some("pip-"), Millis(at));
        found.await.unwrap().map(|c| (c.scope, c.key, c.upload_id))
    };
    assert_eq!(find("shared", "pip-1", 5).await, None);
    assert!(
        put(store, "shared", "pip-1", b"main-1", 10)
            .await
            .is_empty()
    );
    // A pull request reads the shared cache; its own upload is filed apart.
    let (scope, key, upload) = find("pr:7", "pip-1", 11).await.unwrap();
    assert_eq!((scope.as_str(), key.as_str()), ("shared", "pip-1"));
    assert_eq!(read(store, &upload).await, b"main-1");
    assert!(put(store, "pr:7", "pip-1", b"pr-7", 12).await.is_empty());
    let (scope, _, upload) = find("pr:7", "pip-1", 13).await.unwrap();
    assert_eq!(
        (scope.as_str(), read(store, &upload).await),
        ("pr:7", b"pr-7".to_vec())
    );
    let (scope, _, upload) = find("shared", "pip-1", 14).await.unwrap();
    assert_eq!(
        (scope.as_str(), read(store, &upload).await),
        ("shared", b"main-1".to_vec())
    );
    // A new key falls back to the newest of its prefix (own scope first).
    let (scope, key, _) = find("pr:7", "pip-2", 15).await.unwrap();
    assert_eq!((scope.as_str(), key.as_str()), ("pr:7", "pip-1"));
    assert_eq!(
        find("branch:x", "other", 15).await.map(|f| f.1).as_deref(),
        Some("pip-1")
    );
    // A resend replaces the key whole.
    assert!(
        put(store, "shared", "pip-1", b"main-1b", 16)
            .await
            .is_empty()
    );
    let (_, _, upload) = find("shared", "pip-1", 17).await.unwrap();
    assert_eq!(read(store, &upload).await, b"main-1b");
    assert_eq!(store.cache_chunk(&upload, 9).await.unwrap(), None);

    // Budget 20 bytes: pr:7 (4, last used at 15) is the least recently used.
    let all = store.caches(&project).await.unwrap();
    assert_eq!(all.iter().map(|c| c.size).sum::<i64>(), 11);
    let dropped = put(store, "shared", "pip-2", b"0123456789", 20).await;
    assert_eq!(dropped, vec!["pr:7/pip-1"]);
    let left: Vec<String> = (store.caches(&project).await.unwrap().iter())
        .map(|c| format!("{}/{}", c.scope, c.key))
        .collect();
    assert_eq!(left, vec!["shared/pip-1", "shared/pip-2"]);
    // A cache larger than the whole budget is refused, and takes nothing with it.
    assert_eq!(
        put(store, "shared", "pip-3", &[7u8; 25], 30).await,
        vec!["refused"]
    );
    assert_eq!(store.caches(&project).await.unwrap().len(), 2);
    assert_eq!(
        find("shared", "pip-3", 31).await.map(|f| f.1).as_deref(),
        Some("pip-2")
    );
}
