//! Finding and removing what runs left behind: every object Railyard creates carries
//! `io.railyard.*` labels, including the `host:pid` of its owner.

use crate::names::owner_is_alive;
use railyard_docker::{Docker, DockerError, Labelled, RemovalReport};
use railyard_types::labels;

/// Removes the objects whose owning process is dead (a `kill -9`, a crash, a lost terminal).
pub async fn reap_dead_owners(docker: &Docker) -> Result<RemovalReport, DockerError> {
    let all = docker.list_labelled(&[labels::RUN.to_string()]).await?;
    let dead = |o: &railyard_docker::LabelledObject| {
        !o.labels
            .get(labels::OWNER)
            .is_some_and(|owner| owner_is_alive(owner))
    };
    let leftovers = Labelled {
        containers: all.containers.into_iter().filter(dead).collect(),
        networks: all.networks.into_iter().filter(dead).collect(),
        volumes: all.volumes.into_iter().filter(dead).collect(),
    };
    docker.remove_labelled(&leftovers).await
}

/// Removes every object of one run.
pub async fn remove_run(docker: &Docker, run_id: &str) -> Result<RemovalReport, DockerError> {
    let found = docker
        .list_labelled(&[format!("{}={run_id}", labels::RUN)])
        .await?;
    docker.remove_labelled(&found).await
}

/// Removes every object one call of the runner created for a run (see
/// `RunOptions::new_invocation`), leaving other calls' objects of the same run alone.
pub async fn remove_invocation(
    docker: &Docker,
    run_id: &str,
    invocation: &str,
) -> Result<RemovalReport, DockerError> {
    let found = docker
        .list_labelled(&[
            format!("{}={run_id}", labels::RUN),
            format!("{}={invocation}", labels::INVOCATION),
        ])
        .await?;
    docker.remove_labelled(&found).await
}

/// Removes every object Railyard created, whoever owns it.
pub async fn remove_all(docker: &Docker) -> Result<RemovalReport, DockerError> {
    let found = docker.list_labelled(&[labels::RUN.to_string()]).await?;
    docker.remove_labelled(&found).await
}

/// Removes the cache volumes (`cache:`) no container holds: of one project, or all. Caches
/// carry no run label, so nothing above removes them; a volume in use is a failure of the
/// report, left for the next clean.
pub async fn remove_caches(
    docker: &Docker,
    project: Option<&str>,
) -> Result<RemovalReport, DockerError> {
    let filters = match project {
        Some(project) => crate::cache::filters(project, None),
        None => vec![labels::CACHE.to_string()],
    };
    let found = docker.list_labelled(&filters).await?;
    let volumes = Labelled {
        volumes: found.volumes,
        ..Labelled::default()
    };
    docker.remove_labelled(&volumes).await
}
