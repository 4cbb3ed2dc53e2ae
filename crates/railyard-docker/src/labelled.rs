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
        let containers = self
            .client
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(self.err("listing labelled containers"))?
            .into_iter()
            .map(|c| LabelledObject {
                id: c.id.unwrap_or_default(),
                name: c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default(),
                labels: c.labels.unwrap_or_default(),
            })
            .collect();
        let networks = self
            .client
            .list_networks(Some(
                ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(self.err("listing labelled networks"))?
            .into_iter()
            .map(|n| LabelledObject {
                id: n.id.unwrap_or_default(),
                name: n.name.unwrap_or_default(),
                labels: n.labels.unwrap_or_default(),
            })
            .collect();
        let volumes = self
            .client
            .list_volumes(Some(
                ListVolumesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await
            .map_err(self.err("listing labelled volumes"))?
            .volumes
            .unwrap_or_default()
            .into_iter()
            .map(|v| LabelledObject {
                id: v.name.clone(),
                name: v.name,
                labels: v.labels,
            })
            .collect();
        Ok(Labelled {
            containers,
            networks,
            volumes,
        })
    }

    /// Removes these objects: containers first (so their networks and volumes are free),
    /// then networks, then volumes. Failures are collected, not fatal; an unreachable engine
    /// is.
    pub async fn remove_labelled(&self, what: &Labelled) -> Result<RemovalReport, DockerError> {
        let mut report = RemovalReport::default();
        let note =
            |result: Result<(), DockerError>, count: &mut usize, failures: &mut Vec<String>| {
                match result {
                    Ok(()) => {
                        *count += 1;
                        Ok(())
                    }
                    Err(e) if e.is_unreachable() => Err(e),
                    Err(e) => {
                        failures.push(e.to_string());
                        Ok(())
                    }
                }
            };
        for c in &what.containers {
            note(
                self.remove_container(&c.id).await,
                &mut report.containers,
                &mut report.failures,
            )?;
        }
        for n in &what.networks {
            note(
                self.remove_network(&n.id).await,
                &mut report.networks,
                &mut report.failures,
            )?;
        }
        for v in &what.volumes {
            note(
                self.remove_volume(&v.id).await,
                &mut report.volumes,
                &mut report.failures,
            )?;
        }
        Ok(report)
    }
}
