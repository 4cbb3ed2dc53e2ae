//! Finding and removing what Railyard left behind, by label: the reaper behind
//! `railyard clean` and the leftover check of every Docker test.

use crate::client::Docker;
use crate::errors::DockerError;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
};
use std::collections::HashMap;

/// One labelled container, network or volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledObject {
    /// Its id (for volumes, the name).
    pub id: String,
    /// Its name (containers without the leading `/`).
    pub name: String,
    /// All its labels.
    pub labels: HashMap<String, String>,
    /// For a container, the IDs of the networks it is attached to (empty otherwise): what
    /// it must leave before those networks can go.
    pub networks: Vec<String>,
}

/// Objects carrying some labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labelled {
    /// Containers, running or not.
    pub containers: Vec<LabelledObject>,
    /// Networks.
    pub networks: Vec<LabelledObject>,
    /// Volumes.
    pub volumes: Vec<LabelledObject>,
}

impl Labelled {
    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.containers.is_empty() && self.networks.is_empty() && self.volumes.is_empty()
    }

    /// How many objects in all.
    pub fn len(&self) -> usize {
        self.containers.len() + self.networks.len() + self.volumes.len()
    }
}

/// What [`Docker::remove_labelled`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemovalReport {
    /// Containers removed.
    pub containers: usize,
    /// Networks removed.
    pub networks: usize,
    /// Volumes removed.
    pub volumes: usize,
    /// What could not be removed, one message each (removal goes on past failures).
    pub failures: Vec<String>,
}

impl Docker {
    /// Containers, networks and volumes carrying all these labels: `key` (any value) or
    /// `key=value`, e.g. `io.railyard.run` or `io.railyard.run=01J...`.
    pub async fn list_labelled(&self, label_filters: &[String]) -> Result<Labelled, DockerError> {
        let filters: HashMap<&str, Vec<&str>> =
            HashMap::from([("label", label_filters.iter().map(String::as_str).collect())]);
        // Three independent calls: made at once, since teardown waits on them.
        let containers = async {
            let list = self
                .client
                .list_containers(Some(
                    ListContainersOptionsBuilder::default()
                        .all(true)
                        .filters(&filters)
                        .build(),
                ))
                .await
                .map_err(self.err("listing labelled containers"))?;
            Ok::<_, DockerError>(
                list.into_iter()
                    .map(|c| LabelledObject {
                        id: c.id.unwrap_or_default(),
                        name: c
                            .names
                            .and_then(|n| n.into_iter().next())
                            .map(|n| n.trim_start_matches('/').to_string())
                            .unwrap_or_default(),
                        labels: c.labels.unwrap_or_default(),
                        networks: c
                            .network_settings
                            .and_then(|s| s.networks)
                            .unwrap_or_default()
                            .into_values()
                            .filter_map(|e| e.network_id)
                            .collect(),
                    })
                    .collect(),
            )
        };
        let networks = async {
            let list = self
                .client
                .list_networks(Some(
                    ListNetworksOptionsBuilder::default()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .map_err(self.err("listing labelled networks"))?;
            Ok(list
                .into_iter()
                .map(|n| LabelledObject {
                    id: n.id.unwrap_or_default(),
                    name: n.name.unwrap_or_default(),
                    labels: n.labels.unwrap_or_default(),
                    networks: Vec::new(),
                })
                .collect())
        };
        let volumes = async {
            let list = self
                .client
                .list_volumes(Some(
                    ListVolumesOptionsBuilder::default()
                        .filters(&filters)
                        .build(),
                ))
                .await
                .map_err(self.err("listing labelled volumes"))?;
            Ok(list
                .volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| LabelledObject {
                    id: v.name.clone(),
                    name: v.name,
                    labels: v.labels,
                    networks: Vec::new(),
                })
                .collect())
        };
        let (containers, networks, volumes) = tokio::try_join!(containers, networks, volumes)?;
        Ok(Labelled {
            containers,
            networks,
            volumes,
        })
    }

    /// Removes these objects. Each container first leaves the networks being removed (a
    /// forced disconnect is quicker than a removal, which also stops the container and
    /// unmounts its filesystem); then the networks go while the containers are removed, and
    /// the volumes once no container holds them. A network whose container did not leave
    /// is tried again after the containers are gone. Failures are collected, not fatal; an
    /// unreachable engine is.
    pub async fn remove_labelled(&self, what: &Labelled) -> Result<RemovalReport, DockerError> {
        use futures_util::future::join_all;
        let mut report = RemovalReport::default();
        let mut note = |results: Vec<Result<(), DockerError>>,
                        count: fn(&mut RemovalReport) -> &mut usize| {
            for result in results {
                match result {
                    Ok(()) => *count(&mut report) += 1,
                    Err(e) if e.is_unreachable() => return Err(e),
                    Err(e) => report.failures.push(crate::errors::chain(&e)),
                }
            }
            Ok(())
        };
        let leaving = what.containers.iter().flat_map(|c| {
            c.networks
                .iter()
                .filter(|n| what.networks.iter().any(|ours| ours.id == **n))
                .map(|n| self.disconnect(n, &c.id))
        });
        // A disconnect that fails is settled below: the container's removal frees the network.
        for left in join_all(leaving).await {
            if let Err(e) = left
                && e.is_unreachable()
            {
                return Err(e);
            }
        }
        let containers_then_volumes = async {
            let containers =
                join_all(what.containers.iter().map(|c| self.remove_container(&c.id))).await;
            let volumes = join_all(what.volumes.iter().map(|v| self.remove_volume(&v.id))).await;
            (containers, volumes)
        };
        let networks = join_all(what.networks.iter().map(|n| self.remove_network(&n.id)));
        let ((containers, volumes), networks) = tokio::join!(containers_then_volumes, networks);
        let mut retried = Vec::new();
        for (network, result) in what.networks.iter().zip(networks) {
            retried.push(match result {
                Err(e) if !e.is_unreachable() => self.remove_network(&network.id).await,
                other => other,
            });
        }
        note(containers, |r| &mut r.containers)?;
        note(retried, |r| &mut r.networks)?;
        note(volumes, |r| &mut r.volumes)?;
        Ok(report)
    }
}
