//! Agent pools (issue 14): a claim never hands a job of a project to an agent of a pool the
//! project does not allow, whatever labels that agent declares; a token of one pool cannot
//! act for an agent of another. On SQLite, and on PostgreSQL when available.

use railyard_types::{AgentId, Millis, ProjectName, TokenName};

use railyard_store::{AgentCaller, AgentFit, Claim, DEFAULT_POOL, QueuedJob, Store};

use crate::common::{PgDb, data_dir, enqueue, new_run, open_pg};

const LEASE: i64 = 60_000;

#[tokio::test(flavor = "multi_thread")]
async fn pools_on_sqlite() {
    let dir = data_dir();
    let store = Store::open_in(dir.path()).await.unwrap();
    every_rule(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn pools_on_postgres() {
    let Some(db) = PgDb::create("pools_on_postgres").await else {
        return;
    };
    let logs = data_dir();
    let store = open_pg(&db.url, logs.path()).await;
    every_rule(&store).await;
    store.close().await;
    db.drop_db().await;
}

async fn every_rule(store: &Store) {
    defaults_and_lists(store).await;
    tokens_and_agents(store).await;
    no_label_reaches_another_pool(store).await;
}

/// A small deterministic generator (xorshift), so a failing case is the same at every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LABELS: &[&str] = &[
    "linux", "gpu", "arm64", "x86", "big", "docker", "default", "a",
];

async fn add_project(store: &Store, name: &str, pools: Option<&[&str]>) -> ProjectName {
    let project = ProjectName::from(name);
    assert!(
        store
            .add_project(&project, "file:///r.git", Millis::now())
            .await
            .unwrap()
    );
    if let Some(pools) = pools {
        let pools: Vec<String> = pools.iter().map(|p| p.to_string()).collect();
        assert!(store.set_project_pools(&project, &pools).await.unwrap());
    }
    project
}

async fn queue(store: &Store, project: &str, jobs: &[(String, Vec<String>)]) {
    let names: Vec<&str> = jobs.iter().map(|(n, _)| n.as_str()).collect();
    let run = store
        .create_run(&new_run(project, "railyard-server:queue", &names))
        .await
        .unwrap();
    let jobs: Vec<QueuedJob> = jobs
        .iter()
        .map(|(n, labels)| QueuedJob {
            name: n.clone(),
            runs_on: labels.clone(),
            ..Default::default()
        })
        .collect();
    enqueue(store, &run.id, project, &jobs, 1).await;
}

async fn agent(store: &Store, pool: &str, labels: &[&str]) -> AgentId {
    let labels: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
    store
        .register_agent_in_pool("test", 1, &labels, pool, Millis::now())
        .await
        .unwrap()
}

async fn claim(store: &Store, agent: &AgentId) -> Option<Claim> {
    store.claim(agent, Millis::now(), LEASE).await.unwrap()
}

/// A project without a list allows `default` alone; a list replaces it; a removed project
/// forgets its list.
async fn defaults_and_lists(store: &Store) {
    let plain = add_project(store, "pools-plain", None).await;
    assert_eq!(store.pools_of(&plain).await.unwrap(), [DEFAULT_POOL]);
    let listed = add_project(store, "pools-listed", Some(&["gpu", "arm"])).await;
    assert_eq!(store.pools_of(&listed).await.unwrap(), ["arm", "gpu"]);
    let all = store.project_pools().await.unwrap();
    assert_eq!(all.get(&listed).unwrap(), &["arm", "gpu"]);
    assert!(!all.contains_key(&plain), "no list: not in the map");
    assert!(
        !store
            .set_project_pools(&ProjectName::from("pools-nobody"), &["x".into()])
            .await
            .unwrap(),
        "no such project"
    );

    queue(store, "pools-plain", &[("p".into(), vec![])]).await;
    queue(store, "pools-listed", &[("l".into(), vec![])]).await;
    let stranger = agent(store, "other", &[]).await;
    assert!(
        claim(store, &stranger).await.is_none(),
        "pool `other` is allowed by neither project"
    );
    let default = agent(store, DEFAULT_POOL, &[]).await;
    assert_eq!(claim(store, &default).await.unwrap().job, "p");
    assert!(
        claim(store, &default).await.is_none(),
        "`pools-listed` does not allow `default` any more"
    );
    let gpu = agent(store, "gpu", &[]).await;
    assert_eq!(claim(store, &gpu).await.unwrap().job, "l");

    store.remove_project(&listed, true).await.unwrap();
    let again = add_project(store, "pools-listed", None).await;
    assert_eq!(
        store.pools_of(&again).await.unwrap(),
        [DEFAULT_POOL],
        "a project added again under a removed one's name starts from the default"
    );
}

/// A stored agent token carries its pool; an agent fits only the callers of its pool.
async fn tokens_and_agents(store: &Store) {
    let name = TokenName::from("gpu-fleet");
    assert!(
        store
            .add_agent_token(&name, "gpu", "aa11", Millis::now())
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_agent_token(&name, "other", "bb22", Millis::now())
            .await
            .unwrap(),
        "names stay unique"
    );
    let stored = AgentCaller::Stored("aa11".into());
    assert_eq!(
        store.caller_pool(&stored).await.unwrap().as_deref(),
        Some("gpu")
    );
    assert_eq!(
        store.caller_pool(&AgentCaller::Bootstrap).await.unwrap(),
        Some(DEFAULT_POOL.to_owned())
    );
    assert_eq!(
        store
            .caller_pool(&AgentCaller::Stored("nope".into()))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.token_pools().await.unwrap().get("gpu-fleet").unwrap(),
        "gpu"
    );

    let gpu = agent(store, "gpu", &[]).await;
    let default = agent(store, DEFAULT_POOL, &[]).await;
    assert_eq!(
        store.agent_fits(&gpu, &stored).await.unwrap(),
        AgentFit::Fits
    );
    assert_eq!(
        store.agent_fits(&default, &stored).await.unwrap(),
        AgentFit::OtherPool {
            agent: DEFAULT_POOL.into(),
            caller: Some("gpu".into())
        },
        "a gpu token cannot act for a default agent"
    );
    assert_eq!(
        store
            .agent_fits(&default, &AgentCaller::Bootstrap)
            .await
            .unwrap(),
        AgentFit::Fits
    );
    assert!(matches!(
        store
            .agent_fits(&gpu, &AgentCaller::Bootstrap)
            .await
            .unwrap(),
        AgentFit::OtherPool { .. }
    ));
    assert_eq!(
        store
            .agent_fits(&AgentId::from("01NOSUCHAGENT"), &stored)
            .await
            .unwrap(),
        AgentFit::Unknown
    );
    assert!(store.revoke_token(&name, Millis::now()).await.unwrap());
    assert!(
        matches!(
            store.agent_fits(&gpu, &stored).await.unwrap(),
            AgentFit::OtherPool { caller: None, .. }
        ),
        "a revoked token fits no agent"
    );
}

/// The test, property-style: rounds of random jobs (random `runs_on` labels) of
/// project A (pool `a`) and project B (pool `b` and `default`); pool B's agent declares every
/// label there is and claims as long as it gets anything; it never gets A's job, and A's
/// agent gets each of A's jobs it has the labels for.
async fn no_label_reaches_another_pool(store: &Store) {
    add_project(store, "pools-a", Some(&["a"])).await;
    add_project(store, "pools-b", Some(&["b", DEFAULT_POOL])).await;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let b_agent = agent(store, "b", LABELS).await;
    // A default agent with every label too: `default` is not in A's list.
    let d_agent = agent(store, DEFAULT_POOL, LABELS).await;
    let a_agent = agent(store, "a", LABELS).await;
    for round in 0..12 {
        let jobs = |project: &str, n: u64, rng: &mut Rng| -> Vec<(String, Vec<String>)> {
            (0..n)
                .map(|k| {
                    let labels = (0..rng.below(4))
                        .map(|_| LABELS[rng.below(LABELS.len() as u64) as usize].to_owned())
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    (format!("{project}-{round}-{k}"), labels)
                })
                .collect()
        };
        let a_jobs = jobs("a", 1 + rng.below(4), &mut rng);
        let b_jobs = jobs("b", rng.below(3), &mut rng);
        queue(store, "pools-a", &a_jobs).await;
        queue(store, "pools-b", &b_jobs).await;
        let mut b_got = Vec::new();
        for other in [&b_agent, &d_agent] {
            while let Some(c) = claim(store, other).await {
                assert_eq!(
                    c.project.as_str(),
                    "pools-b",
                    "round {round}: an agent outside pool `a` got {} of project A (labels {:?})",
                    c.job,
                    a_jobs
                );
                b_got.push(c.job);
            }
        }
        b_got.sort();
        let mut b_names: Vec<String> = b_jobs.iter().map(|(n, _)| n.clone()).collect();
        b_names.sort();
        assert_eq!(
            b_got, b_names,
            "round {round}: B's jobs all went to B's pools"
        );
        let mut a_got = Vec::new();
        while let Some(c) = claim(store, &a_agent).await {
            assert_eq!(c.project.as_str(), "pools-a");
            a_got.push(c.job);
        }
        a_got.sort();
        let mut a_names: Vec<String> = a_jobs.iter().map(|(n, _)| n.clone()).collect();
        a_names.sort();
        assert_eq!(a_got, a_names, "round {round}: A's agent has every label");
    }
}
