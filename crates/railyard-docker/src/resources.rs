//! Networks and volumes: created labelled, removed idempotently.

use crate::client::{Docker, is_not_found};
use crate::errors::{DockerError, server_error};
use bollard::models::{NetworkCreateRequest, NetworkDisconnectRequest, VolumeCreateRequest};
use bollard::query_parameters::RemoveVolumeOptionsBuilder;
use std::collections::HashMap;

impl Docker {
    /// Creates a bridge network; returns its id. Containers on different networks cannot
    /// reach each other. A name already taken is [`DockerError::Conflict`].
    pub async fn create_network(
        &self,
        name: &str,
        labels: &HashMap<String, String>,
    ) -> Result<String, DockerError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".to_string()),
            labels: Some(labels.clone()),
            ..Default::default()
        };
        let created = self.client.create_network(request).await.map_err(|e| {
            // Docker 20.10 answers a duplicate name with 409 "already exists".
            match server_error(&e) {
                Some((409, message)) => DockerError::Conflict {
                    kind: "network",
                    name: name.to_string(),
                    message: message.to_string(),
                },
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
