//! Copying files in and out of containers through the archive API (tar streams).

use crate::client::{Docker, api_error};
use crate::errors::{DockerError, server_error};
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};

impl Docker {
    /// Extracts a tar into `dest_dir` (which must exist) in the container. Works on stopped
    /// containers too, and writes through to mounted volumes.
    pub async fn put_archive(
        &self,
        container: &str,
        dest_dir: &str,
        tar: Bytes,
    ) -> Result<(), DockerError> {
        let options = UploadToContainerOptionsBuilder::default()
            .path(dest_dir)
            .build();
        self.client
            .upload_to_container(container, Some(options), bollard::body_full(tar))
            .await
            .map_err(|e| self.put_error(container, dest_dir, e))
    }

    /// Like [`Docker::put_archive`], with the tar read as it is sent (from a file), so that
    /// memory does not grow with its size. A read error aborts the upload.
    pub async fn put_archive_stream(
        &self,
        container: &str,
        dest_dir: &str,
        tar: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
    ) -> Result<(), DockerError> {
        let options = UploadToContainerOptionsBuilder::default()
            .path(dest_dir)
            .build();
        self.client
            .upload_to_container(container, Some(options), bollard::body_try_stream(tar))
            .await
            .map_err(|e| self.put_error(container, dest_dir, e))
    }

    fn put_error(&self, container: &str, dest_dir: &str, e: bollard::errors::Error) -> DockerError {
        match server_error(&e) {
            Some((404, m)) if !m.contains("No such container") => DockerError::PathNotFound {
                container: container.to_string(),
                path: dest_dir.to_string(),
            },
            _ => self.err_for(
                "container",
                container,
                format!("copying files into `{container}:{dest_dir}`"),
            )(e),
        }
    }

    /// A tar stream of a path in the container: a file, or a folder with its contents (the
    /// tar's top entry is the path's last component). A missing path is
    /// [`DockerError::PathNotFound`], reported here rather than by the stream.
    pub async fn get_archive(
        &self,
        container: &str,
        path: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, DockerError>> + Send + Unpin + use<>, DockerError>
    {
        let options = DownloadFromContainerOptionsBuilder::default()
            .path(path)
            .build();
        let mut body = Box::pin(
            self.client
                .download_from_container(container, Some(options)),
        );
        // The request is sent on the first poll: wait for it so a 404 is an error here.
        let first = match body.next().await {
            None => None,
            Some(Ok(chunk)) => Some(chunk),
            Some(Err(e)) => {
                return Err(match server_error(&e) {
                    Some((404, m)) if !m.contains("No such container") => {
                        DockerError::PathNotFound {
                            container: container.to_string(),
                            path: path.to_string(),
                        }
                    }
                    _ => self.err_for(
                        "container",
                        container,
                        format!("copying `{path}` out of `{container}`"),
                    )(e),
                });
            }
        };
        let endpoint = self.endpoint.clone();
        let doing = format!("copying `{path}` out of `{container}`");
        let rest = body.map(move |item| item.map_err(|e| api_error(&endpoint, doing.clone(), e)));
        Ok(stream::iter(first.map(Ok)).chain(rest))
    }
}
