//! Cron schedules: added once per name and only to a project that exists, listed, due by
//! their next time, claimed exactly once by many concurrent claimers (the compare-and-set on
//! `next_at` that lets one server of several fire each time), a fire's outcome recorded, and
//! removed with their project. On SQLite, and on PostgreSQL when available.

use railyard_store::{NewSchedule, ScheduleAdded, Store};
use railyard_types::{Millis, ProjectName, RunId};

use crate::common::{PgDb, data_dir, open_pg};

#[tokio::test(flavor = "multi_thread")]
async fn schedules_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    schedules(&store).await;
    exactly_once(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_on_postgres() {
    let Some(db) = PgDb::create("schedules_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    schedules(&store).await;
    exactly_once(&store).await;
    store.close().await;
    db.drop_db().await;
}

fn new<'a>(project: &'a ProjectName, name: &'a str, next_at: i64) -> NewSchedule<'a> {
    NewSchedule {
        project,
        name,
        cron: "0 3 * * *",
        git_ref: "main",
        next_at: Millis(next_at),
        created_by: "user:ann",
        created_at: Millis(1_000),
    }
}

async fn schedules(store: &Store) {
    let demo = ProjectName::from("sched-demo");
    let ghost = ProjectName::from("sched-ghost");
    store
        .add_project(&demo, "file:///r.git", Millis::now())
        .await
        .unwrap();

    let ScheduleAdded::Added(nightly) = store
        .add_schedule(&new(&demo, "nightly", 5_000))
        .await
        .unwrap()
    else {
        panic!("the schedule is added");
    };
    assert_eq!(nightly.name, "nightly");
    assert_eq!(nightly.git_ref, "main");
    assert_eq!(nightly.next_at, Millis(5_000));
    assert_eq!(nightly.created_by, "user:ann");
    assert_eq!(nightly.last_run_id, None);
    // A second of the same name, or one for a project that does not exist: nothing stored.
    assert_eq!(
        store.add_schedule(&new(&demo, "nightly", 1)).await.unwrap(),
        ScheduleAdded::NameTaken
    );
    assert_eq!(
        store
            .add_schedule(&new(&ghost, "nightly", 1))
            .await
            .unwrap(),
        ScheduleAdded::NoProject
    );
    let ScheduleAdded::Added(hourly) = store
        .add_schedule(&new(&demo, "hourly", 9_000))
        .await
        .unwrap()
    else {
        panic!("a second name is added");
    };
    let listed = store.schedules(Some(&demo)).await.unwrap();
    assert_eq!(listed, vec![*hourly.clone(), *nightly.clone()]);
    assert!(store.schedules(Some(&ghost)).await.unwrap().is_empty());
    assert_eq!(store.next_schedule_at().await.unwrap(), Some(Millis(5_000)));

    // Due: only what is at or before `now`.
    assert!(store.due_schedules(Millis(4_999)).await.unwrap().is_empty());
    let due = store.due_schedules(Millis(5_000)).await.unwrap();
    assert_eq!(due.iter().map(|s| &s.name).collect::<Vec<_>>(), ["nightly"]);

    // A claim moves the next time on once; a second claim of the same time changes nothing.
    assert!(
        store
            .claim_schedule(&nightly.id, Millis(5_000), Millis(90_000), Millis(5_010))
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_schedule(&nightly.id, Millis(5_000), Millis(95_000), Millis(5_020))
            .await
            .unwrap()
    );
    let run = RunId::from("01JRUN");
    store
        .record_schedule_fire(&nightly.id, Ok(&run))
        .await
        .unwrap();
    // A failed start keeps the last run that started and says why.
    store
        .record_schedule_fire(&nightly.id, Err("ref `gone` not found"))
        .await
        .unwrap();
    let now = store.schedules(Some(&demo)).await.unwrap();
    let fired = now.iter().find(|s| s.name == "nightly").unwrap();
    assert_eq!(fired.next_at, Millis(90_000));
    assert_eq!(fired.last_fired_at, Some(Millis(5_010)));
    assert_eq!(fired.last_run_id.as_deref(), Some("01JRUN"));
    assert_eq!(fired.last_error.as_deref(), Some("ref `gone` not found"));
    store
        .record_schedule_fire(&nightly.id, Ok(&run))
        .await
        .unwrap();
    let again = store.schedules(Some(&demo)).await.unwrap();
    assert_eq!(
        again
            .iter()
            .find(|s| s.name == "nightly")
            .unwrap()
            .last_error,
        None
    );

    // Removing one; removing the project removes the rest.
    assert!(store.remove_schedule(&demo, "hourly").await.unwrap());
    assert!(!store.remove_schedule(&demo, "hourly").await.unwrap());
    store.remove_project(&demo, true).await.unwrap();
    assert!(store.schedules(None).await.unwrap().is_empty());
    assert_eq!(store.next_schedule_at().await.unwrap(), None);
    // A project added again under the name starts with none, and may reuse the names.
    store
        .add_project(&demo, "file:///r.git", Millis::now())
        .await
        .unwrap();
    assert!(store.schedules(Some(&demo)).await.unwrap().is_empty());
    assert!(matches!(
        store.add_schedule(&new(&demo, "nightly", 1)).await.unwrap(),
        ScheduleAdded::Added(_)
    ));
    store.remove_project(&demo, true).await.unwrap();
}

/// Sixteen claimers race for each of ten fire times (as servers on one database would): each
/// time is won by exactly one.
async fn exactly_once(store: &Store) {
    let project = ProjectName::from("sched-race");
    store
        .add_project(&project, "file:///r.git", Millis::now())
        .await
        .unwrap();
    let ScheduleAdded::Added(s) = store
        .add_schedule(&new(&project, "race", 1_000))
        .await
        .unwrap()
    else {
        panic!("added");
    };
    for fire in 1..=10i64 {
        let was = Millis(fire * 1_000);
        let next = Millis((fire + 1) * 1_000);
        let mut claimers = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (store, id) = (store.clone(), s.id.clone());
            claimers.spawn(async move {
                // Each reads what is due and claims what it read, as the scheduler does.
                let due = store.due_schedules(was).await.unwrap();
                match due.iter().find(|d| d.id == id) {
                    Some(d) => store
                        .claim_schedule(&id, d.next_at, next, was)
                        .await
                        .unwrap(),
                    None => false,
                }
            });
        }
        let won = claimers.join_all().await.into_iter().filter(|w| *w).count();
        assert_eq!(won, 1, "fire time {fire} was claimed {won} times");
    }
    store.remove_project(&project, true).await.unwrap();
}
