//! `cache:` on the real engine: a warm volume is mounted again with its contents, scopes
//! keep a pull request out of the shared cache, a new key starts from the newest of its
//! prefix, and the remote's archives are a miss when slow and refused when hostile. Each
//! test removes its cache volumes (they outlive runs by design) and checks none is left.

use crate::common::{Ran, Repo, docker, run_configured};
use railyard_runner::cache::{Options, RemoteCache, filters};
use railyard_types::JobStatus;
use railyard_types::cache::CacheScope;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const PIPELINE: &str = r#"
env: { image: busybox }
jobs:
  deps:
    cache:
      - name: dl
        key: { files: [lock.txt], prefix: dl- }
        paths: [.cache/dl]
    script:
      - mkdir -p .cache/dl && echo "$RAILYARD_RUN_ID" >> .cache/dl/runs && cat .cache/dl/runs
"#;

/// The repository's cache volumes, removed at the end of the test even when it fails.
struct Volumes(String);

impl Volumes {
    fn of(repo: &Repo) -> Volumes {
        Volumes(repo.root().display().to_string())
    }

    async fn list(&self) -> Vec<railyard_docker::LabelledObject> {
        let found = docker().await.list_labelled(&filters(&self.0, None)).await;
        found.unwrap().volumes
    }

    async fn remove(&self) {
        let docker = docker().await;
        let removed = railyard_runner::cleanup::remove_caches(&docker, Some(&self.0)).await;
        assert!(removed.unwrap().failures.is_empty());
        assert!(self.list().await.is_empty(), "cache volumes left");
    }
}

async fn run_as(repo: &Repo, scope: CacheScope) -> Ran {
    run_remote(repo, scope, None, Duration::from_secs(60)).await
}

async fn run_remote(
    repo: &Repo,
    scope: CacheScope,
    remote: Option<Arc<dyn RemoteCache>>,
    restore_timeout: Duration,
) -> Ran {
    run_configured(repo, &[], None, |o| {
        o.caches = Options {
            scope,
            remote,
            restore_timeout,
        }
    })
    .await
}

fn said(ran: &Ran, job: &str, what: &str) -> bool {
    ran.output(job).iter().any(|l| l.contains(what))
}

/// The run ids the job printed from its cache file.
fn runs_seen(ran: &Ran) -> Vec<String> {
    ran.output("deps")
        .into_iter()
        .filter(|l| l.starts_with("test"))
        .collect()
}

/// The run's own id, which the job printed last.
fn run_id(ran: &Ran) -> String {
    runs_seen(ran)
        .last()
        .expect("the job printed its run id")
        .clone()
}

#[tokio::test]
async fn a_second_run_mounts_the_warm_volume_with_its_contents() {
    let repo = Repo::new(PIPELINE);
    repo.write("lock.txt", "a==1\n");
    let volumes = Volumes::of(&repo);
    let first = run_as(&repo, CacheScope::Shared).await;
    assert_eq!(first.status("deps"), JobStatus::Success);
    assert!(
        said(&first, "deps", "cache dl: miss (key dl-"),
        "{:?}",
        first.output("deps")
    );
    let second = run_as(&repo, CacheScope::Shared).await;
    assert_eq!(second.status("deps"), JobStatus::Success);
    assert!(
        said(&second, "deps", "cache dl: warm (key dl-"),
        "{:?}",
        second.output("deps")
    );
    assert_eq!(runs_seen(&second), vec![run_id(&first), run_id(&second)]);
    // The volume outlived both runs' cleanup, labelled as a cache of this project.
    let listed = volumes.list().await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].labels["io.railyard.cache.scope"], "shared");
    assert!(listed[0].name.starts_with("ry-cache-"));
    volumes.remove().await;
}

#[tokio::test]
async fn a_pull_request_starts_from_a_copy_and_never_changes_the_shared_cache() {
    let repo = Repo::new(PIPELINE);
    repo.write("lock.txt", "a==1\n");
    let volumes = Volumes::of(&repo);
    let main = run_as(&repo, CacheScope::Shared).await;
    let pr = run_as(&repo, CacheScope::PullRequest(7)).await;
    assert_eq!(pr.status("deps"), JobStatus::Success);
    assert!(
        said(&pr, "deps", "cache dl: copied from shared"),
        "{:?}",
        pr.output("deps")
    );
    assert_eq!(runs_seen(&pr), vec![run_id(&main), run_id(&pr)]);
    // The pull request's own scope is warm for it from now on...
    let pr_again = run_as(&repo, CacheScope::PullRequest(7)).await;
    assert!(said(&pr_again, "deps", "cache dl: warm"));
    assert_eq!(runs_seen(&pr_again).len(), 3);
    // ...and main's still holds main's run alone.
    let main_again = run_as(&repo, CacheScope::Shared).await;
    assert!(said(&main_again, "deps", "cache dl: warm"));
    assert_eq!(
        runs_seen(&main_again),
        vec![run_id(&main), run_id(&main_again)]
    );
    let scopes: Vec<String> = (volumes.list().await.iter())
        .map(|v| v.labels["io.railyard.cache.scope"].clone())
        .collect();
    assert_eq!(scopes.len(), 2, "{scopes:?}");
    assert!(scopes.contains(&"pr:7".to_string()) && scopes.contains(&"shared".to_string()));
    volumes.remove().await;
}

#[tokio::test]
async fn a_new_key_starts_from_the_newest_cache_of_its_prefix() {
    let repo = Repo::new(PIPELINE);
    repo.write("lock.txt", "a==1\n");
    let volumes = Volumes::of(&repo);
    let first = run_as(&repo, CacheScope::Shared).await;
    repo.write("lock.txt", "a==2\n");
    let second = run_as(&repo, CacheScope::Shared).await;
    assert!(said(
        &second,
        "deps",
        "cache dl: copied from shared (key dl-"
    ));
    assert_eq!(runs_seen(&second), vec![run_id(&first), run_id(&second)]);
    assert_eq!(volumes.list().await.len(), 2);
    volumes.remove().await;
}

#[tokio::test]
async fn a_missing_key_file_fails_the_job_naming_it() {
    let repo = Repo::new(PIPELINE);
    let volumes = Volumes::of(&repo);
    let ran = run_as(&repo, CacheScope::Shared).await;
    assert_eq!(ran.status("deps"), JobStatus::Failed);
    let error = ran.outcome.jobs["deps"].error.clone().unwrap();
    assert!(error.contains("key file `lock.txt`"), "{error}");
    assert!(volumes.list().await.is_empty());
}

/// A remote that answers from a fixed archive, or never.
struct FixedRemote {
    archive: Option<Vec<u8>>,
}

#[async_trait::async_trait]
impl RemoteCache for FixedRemote {
    async fn fetch(
        &self,
        _name: &str,
        key: &str,
        _prefix: Option<&str>,
        into: &Path,
    ) -> Result<Option<String>, String> {
        match &self.archive {
            Some(bytes) => {
                std::fs::write(into, bytes).unwrap();
                Ok(Some(key.to_owned()))
            }
            None => std::future::pending().await,
        }
    }

    async fn store(
        &self,
        _name: &str,
        _key: &str,
        _prefix: Option<&str>,
        _archive: &Path,
    ) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test]
async fn a_remote_that_does_not_answer_in_time_is_a_miss_and_the_job_passes() {
    let repo = Repo::new(PIPELINE);
    repo.write("lock.txt", "a==1\n");
    let volumes = Volumes::of(&repo);
    let remote: Arc<dyn RemoteCache> = Arc::new(FixedRemote { archive: None });
    let ran = run_remote(
        &repo,
        CacheScope::Shared,
        Some(remote),
        Duration::from_secs(1),
    )
    .await;
    assert_eq!(ran.status("deps"), JobStatus::Success);
    assert!(
        said(&ran, "deps", "starts empty: restoring it took over 1 s"),
        "{:?}",
        ran.output("deps")
    );
    volumes.remove().await;
}

fn raw_tar(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, body, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        let bytes = name.as_bytes();
        h.as_old_mut().name[..bytes.len()].copy_from_slice(bytes);
        if let Some(link) = link {
            h.set_link_name(link).unwrap();
        }
        h.set_cksum();
        b.append(&h, *body).unwrap();
    }
    b.into_inner().unwrap()
}

#[tokio::test]
async fn a_hostile_remote_archive_writes_nothing_outside_the_cache() {
    use tar::EntryType::{Directory, Regular, Symlink};
    let repo = Repo::new(
        r#"
env: { image: busybox }
jobs:
  deps:
    cache: [{ name: dl, key: k1, paths: [.cache/dl] }]
    script:
      - ls -la .cache/dl || true
      - test ! -e escaped && test ! -e /escaped && echo "nothing escaped"
      - test ! -e .cache/dl/up || test "$(readlink .cache/dl/up)" != / && echo "no link"
      - cat .cache/dl/ok
"#,
    );
    let volumes = Volumes::of(&repo);
    // Links to anywhere are dropped; a good file is kept.
    let links = raw_tar(&[
        (".cache/dl/", Directory, b"", None),
        (".cache/dl/up", Symlink, b"", Some("/")),
        (".cache/dl/ok", Regular, b"fine\n", None),
    ]);
    let remote: Arc<dyn RemoteCache> = Arc::new(FixedRemote {
        archive: Some(links),
    });
    let ran = run_remote(
        &repo,
        CacheScope::Shared,
        Some(remote),
        Duration::from_secs(60),
    )
    .await;
    assert_eq!(
        ran.status("deps"),
        JobStatus::Success,
        "{:?}",
        ran.output("deps")
    );
    assert!(said(&ran, "deps", "1 link(s) or special file(s) left out"));
    assert!(said(&ran, "deps", "nothing escaped") && said(&ran, "deps", "fine"));
    volumes.remove().await;
    // An entry climbing out refuses the whole archive: a miss, and the job still runs.
    for name in ["../escaped", ".cache/dl/../../escaped", "/escaped", "src/x"] {
        let bad = raw_tar(&[
            (".cache/dl/ok", Regular, b"fine\n", None),
            (name, Regular, b"pwned\n", None),
        ]);
        let remote: Arc<dyn RemoteCache> = Arc::new(FixedRemote { archive: Some(bad) });
        let ran = run_remote(
            &repo,
            CacheScope::Shared,
            Some(remote),
            Duration::from_secs(60),
        )
        .await;
        assert!(
            said(&ran, "deps", "could not be restored"),
            "{name}: {:?}",
            ran.output("deps")
        );
        assert!(said(&ran, "deps", "nothing escaped"), "{name}");
        assert_eq!(
            ran.status("deps"),
            JobStatus::Failed,
            "no ok file: `cat` fails"
        );
        volumes.remove().await;
    }
}
