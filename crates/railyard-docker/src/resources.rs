//! Networks and volumes: created labelled, removed idempotently.

use crate::client::{Docker, is_not_found};
use crate::errors::{DockerError, server_error};
use bollard::models::{
    Ipam, IpamConfig, NetworkCreateRequest, NetworkDisconnectRequest, VolumeCreateRequest,
};
use bollard::query_parameters::{ListNetworksOptions, RemoveVolumeOptionsBuilder};
use std::collections::HashMap;

impl Docker {
    /// Creates a bridge network; returns its id. Containers on different networks cannot
    /// reach each other. A name already taken is [`DockerError::Conflict`].
    pub async fn create_network(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<String, DockerError> {
        self.create_network_in(name, labels, None).await
    }

    /// Creates a bridge network on the given subnet (`10.213.4.16/28`), or on one of the
    /// engine's default pools when `None`. A subnet that overlaps another network is
    /// [`DockerError::SubnetTaken`].
    pub async fn create_network_in(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
        subnet: Option<&str>,
    ) -> Result<String, DockerError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(labels.clone()),
            ipam: subnet.map(|subnet| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self.client.create_network(request).await.map_err(|e| {
            match server_error(&e) {
                // Docker 20.10 answers a duplicate name with 409 "already exists".
                Some((409, message)) => DockerError::Conflict {
                    kind: "network",
                    name: name.to_string(),
                    message: message.to_string(),
                },
                // IPAM's "Pool overlaps with other one", or the bridge driver's "networks
                // have overlapping IPv4" while a removed network's bridge is still going.
                Some((_, message)) if message.contains("overlap") && subnet.is_some() => {
                    DockerError::SubnetTaken {
                        subnet: subnet.unwrap_or_default().to_string(),
                        message: message.to_string(),
                    }
                }
                _ => self.err(format!("creating network `{name}`"))(e),
            }
        })?;
        // Docker 20.10 does not refuse a duplicate name (API < 1.44 only checks on request);
        // it creates a second network and warns. Two networks under one name make every
        // later lookup by name ambiguous, so undo it and say so.
        if created.warning.contains("already exists") {
            self.remove_network(&created.id).await?;
            return Err(DockerError::Conflict {
                kind: "network",
                name: name.to_string(),
                message: created.warning,
            });
        }
        Ok(created.id)
    }

    /// Every network of the engine with its subnets and labels.
    pub async fn network_subnets(&self) -> Result<Vec<NetworkSubnets>, DockerError> {
        let networks = self
            .client
            .list_networks(None::<ListNetworksOptions>)
            .await
            .map_err(self.err("listing networks".to_string()))?;
        Ok(networks
            .into_iter()
            .map(|n| NetworkSubnets {
                name: n.name.unwrap_or_default(),
                labels: n.labels.unwrap_or_default(),
                subnets: n
                    .ipam
                    .and_then(|i| i.config)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.subnet)
                    .collect(),
            })
            .collect())
    }

    /// Removes a network. Already gone is fine.
    pub async fn remove_network(&self, name_or_id: &str) -> Result<(), DockerError> {
        match self.client.remove_network(name_or_id).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.err(format!("removing network `{name_or_id}`"))(e)),
        }
    }

    /// Takes a container off a network, running or not (forced). Already gone is fine.
    pub async fn disconnect(&self, network: &str, container: &str) -> Result<(), DockerError> {
        let request = NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(true),
        };
        match self.client.disconnect_network(network, request).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.err(format!(
                "disconnecting container `{container}` from network `{network}`"
            ))(e)),
        }
    }

    /// Creates a local volume; returns its name.
    pub async fn create_volume(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<String, DockerError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_string()),
            driver: Some("local".to_string()),
            labels: Some(labels.clone()),
            ..Default::default()
        };
        let volume = self
            .client
            .create_volume(request)
            .await
            .map_err(self.err_for("volume", name, format!("creating volume `{name}`")))?;
        Ok(volume.name)
    }

    /// Removes a volume. Already gone is fine; one still in use is an error.
    pub async fn remove_volume(&self, name: &str) -> Result<(), DockerError> {
        let options = RemoveVolumeOptionsBuilder::default().force(false).build();
        match self.client.remove_volume(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.err(format!("removing volume `{name}`"))(e)),
        }
    }
}

/// A network's name, subnets and labels, as [`Docker::network_subnets`] lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSubnets {
    /// The network's name.
    pub name: String,
    /// Its subnets (`172.17.0.0/16`); IPv6 ones too.
    pub subnets: Vec<String>,
    /// Its labels.
    pub labels: HashMap<String, String>,
}
