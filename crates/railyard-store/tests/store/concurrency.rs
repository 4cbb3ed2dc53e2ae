//! Run numbers stay unique when many creators race, within a process and across pools on
//! one file (as two `railyard run` processes would be), and opening a new file from several
//! places at once migrates it once.

use railyard_store::Store;
use railyard_types::ProjectName;

use crate::common::{PgDb, data_dir, new_run, open_pg};

const CREATORS: i64 = 20;

async fn twenty_creators(a: Store, b: Store) {
    let mut tasks = Vec::new();
    for i in 0..CREATORS {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            store
                .create_run(&new_run("busy", &format!("host:{i}"), &["build", "test"]))
                .await
        }));
    }
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap().expect("create_run").number);
    }
    numbers.sort();
    assert_eq!(numbers, (1..=CREATORS).collect::<Vec<_>>());
    let listed = a
        .list_runs(Some(&ProjectName::from("busy")), 0)
        .await
        .unwrap();
    assert_eq!(listed.len(), CREATORS as usize);
    let detail = b
        .find_run(Some(&ProjectName::from("busy")), "#20")
        .await
        .unwrap()
        .expect("run #20");
    assert_eq!(detail.jobs.len(), 2);
    a.close().await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creators_get_distinct_numbers_on_sqlite() {
    let dir = data_dir();
    let a = Store::open_in(dir.path()).await.unwrap();
    let b = Store::open_in(dir.path()).await.unwrap();
    twenty_creators(a, b).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_creators_get_distinct_numbers_on_postgres() {
    let Some(db) = PgDb::create("concurrent_creators_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let (a, b) = tokio::join!(open_pg(&db.url, logs.path()), open_pg(&db.url, logs.path()));
    twenty_creators(a, b).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_opens_of_a_new_file_all_succeed() {
    let dir = data_dir();
    let path = dir.path().join("nested/folder/history.db");
    let url = path.display().to_string();
    let opens = (0..6).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { Store::open(&url).await })
    });
    let mut stores = Vec::new();
    for open in opens {
        stores.push(open.await.unwrap().expect("open"));
    }
    let run = stores[0]
        .create_run(&new_run("p", "h:1", &[]))
        .await
        .unwrap();
    assert!(stores[5].find_run(None, &run.id).await.unwrap().is_some());
    assert_eq!(stores[3].logs_dir(), dir.path().join("nested/folder/logs"));
    for store in stores {
        store.close().await;
    }
}
