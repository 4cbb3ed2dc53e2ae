//! Env images' build leases (migration 0031): of many agents asking at once one builds each
//! key; the others wait until it reports its digest, then pull; a lease that lapsed (its agent
//! died) is taken over, and a report from the lapsed holder after that is refused; each job's
//! use moves the key's `last_used_at`, which garbage collection reads. On SQLite, and on
//! PostgreSQL when available (where several servers share the one database clock).

use railyard_store::Store;
use railyard_types::env_images::EnvLeaseAnswer;
use railyard_types::{Millis, ProjectName};

use crate::common::{PgDb, data_dir, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn env_leases_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    leases(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn env_leases_on_postgres() {
    let Some(db) = PgDb::create("env_leases_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    leases(&store).await;
    store.close().await;
    db.drop_db().await;
}

const LEASE: i64 = 3_000;

async fn leases(store: &Store) {
    let demo = ProjectName::from("demo");
    let other = ProjectName::from("other");
    let key = "ab".repeat(32);
    let digest = format!("sha256:{}", "cd".repeat(32));
    let t0 = 1_000_000i64;

    // Sixteen asking at once: exactly one builds.
    let mut askers = tokio::task::JoinSet::new();
    for i in 0..16 {
        let (store, demo, key) = (store.clone(), demo.clone(), key.clone());
        askers.spawn(async move {
            let holder = format!("agent-{i}");
            store
                .env_build_lease(&demo, &key, &holder, Millis(t0), LEASE)
                .await
                .unwrap()
        });
    }
    let answers = askers.join_all().await;
    let builders = answers
        .iter()
        .filter(|a| matches!(a, EnvLeaseAnswer::Build { .. }))
        .count();
    assert_eq!(builders, 1, "{answers:?}");
    let holder = store
        .env_image(&demo, &key)
        .await
        .unwrap()
        .unwrap()
        .lease_holder
        .unwrap();
    let waiter = if holder == "agent-0" {
        "agent-1"
    } else {
        "agent-0"
    };

    // The holder renews; the others wait while it is live, whoever they are.
    let at = |ms: i64| Millis(t0 + ms);
    let renewed = store.env_build_lease(&demo, &key, &holder, at(2_000), LEASE);
    assert_eq!(
        renewed.await.unwrap(),
        EnvLeaseAnswer::Build { lease_ms: 3_000 }
    );
    let waited = store.env_build_lease(&demo, &key, waiter, at(4_900), LEASE);
    assert_eq!(
        waited.await.unwrap(),
        EnvLeaseAnswer::Wait {
            holder: holder.clone()
        }
    );
    // The same key of another project is another key.
    let theirs = store.env_build_lease(&other, &key, waiter, at(4_900), LEASE);
    assert!(matches!(
        theirs.await.unwrap(),
        EnvLeaseAnswer::Build { .. }
    ));

    // The holder stops renewing (its agent died): past its lease the waiter takes over, and
    // the lapsed holder's late report is refused.
    let taken = store.env_build_lease(&demo, &key, waiter, at(5_001), LEASE);
    assert!(matches!(taken.await.unwrap(), EnvLeaseAnswer::Build { .. }));
    let late = (store.env_image_built(&demo, &key, &holder, ("r:k", &digest), at(5_100))).await;
    assert!(!late.unwrap());
    let reported = store.env_image_built(&demo, &key, waiter, ("r:k", &digest), at(6_000));
    assert!(reported.await.unwrap());
    // Built: everyone, the lapsed holder too, is told to pull it.
    let ready = store.env_build_lease(&demo, &key, &holder, at(6_100), LEASE);
    assert_eq!(
        ready.await.unwrap(),
        EnvLeaseAnswer::Ready {
            digest: digest.clone()
        }
    );
    let row = store.env_image(&demo, &key).await.unwrap().unwrap();
    assert_eq!(row.built_by.as_deref(), Some(waiter));
    assert_eq!(row.lease_holder, None);
    assert_eq!(row.last_used_at, Some(at(6_000)));

    // A job's use moves `last_used_at`; a key known only from a use is listed too.
    store
        .env_image_used(&demo, &key, &digest, at(90_000))
        .await
        .unwrap();
    let fresh = "ef".repeat(32);
    store
        .env_image_used(&demo, &fresh, &digest, at(10_000))
        .await
        .unwrap();
    let unused = store.env_images(Some(at(50_000))).await.unwrap();
    let keys: Vec<(&str, &str)> = unused
        .iter()
        .map(|r| (r.project.as_str(), r.key.as_str()))
        .collect();
    // `other`'s key was never built nor used: unused since always.
    assert_eq!(
        keys,
        vec![("demo", fresh.as_str()), ("other", key.as_str())]
    );
    assert_eq!(store.env_images(None).await.unwrap().len(), 3);
}
