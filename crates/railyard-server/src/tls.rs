//! HTTPS: the certificate chain and key the operator gives as PEM files, served by rustls on
//! aws-lc-rs. [`Tls::reload`] reads both files again (the CLI calls it on SIGHUP), so a renewed
//! certificate takes effect without a restart or a dropped connection; a reload that fails
//! keeps the certificate in use, since a server that stopped serving over a typo in a renewal
//! script would take every agent down with it.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;

/// Installs aws-lc-rs as the process's rustls crypto provider. Call it first thing in `main`
/// and in test setup: rustls panics at run time when it finds no default and more than one
/// provider compiled in. Calling it again does nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A certificate and key to serve, and where they were read from (to read them again).
#[derive(Clone)]
pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    config: RustlsConfig,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A certificate or key that cannot be served; the message names the file and what to do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(String);

impl Tls {
    /// Reads the certificate chain (`cert`, PEM, the server's certificate first) and its
    /// private key (`key`, PEM: PKCS#8, PKCS#1 or SEC1).
    pub fn load(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        Ok(Tls {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            config: RustlsConfig::from_config(server_config(cert, key)?),
        })
    }

    /// Reads both files again and serves the new pair to every connection made from now on;
    /// on an error the pair in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        self.config
            .reload_from_config(server_config(&self.cert, &self.key)?);
        Ok(())
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let read = |path: &Path, what: &str, flag: &str| {
        std::fs::read(path).map_err(|e| {
            TlsError(format!(
                "cannot read the TLS {what} {}: {e}; pass a readable PEM file as {flag}",
                path.display()
            ))
        })
    };
    let cert_pem = read(cert, "certificate", "--tls-cert")?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            TlsError(format!(
                "the TLS certificate {} is not valid PEM ({e}); pass the server's certificate \
                 chain as --tls-cert",
                cert.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(TlsError(format!(
            "the TLS certificate {} holds no `-----BEGIN CERTIFICATE-----` block; pass the \
             server's certificate chain (PEM) as --tls-cert",
            cert.display()
        )));
    }
    let key_pem = read(key, "key", "--tls-key")?;
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
        TlsError(format!(
            "the TLS key {} holds no private key ({e}); pass the certificate's key (PEM: \
             PKCS#8, PKCS#1 or SEC1) as --tls-key",
            key.display()
        ))
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(format!("TLS protocol versions: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| {
            TlsError(format!(
                "the TLS key {} does not go with the certificate {} ({e}); pass the key the \
                 certificate was issued for",
                key.display(),
                cert.display()
            ))
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Serves `app` over TLS on `listener` until `shutdown` completes; then, as plain HTTP does,
/// waits for the open requests to finish.
pub(crate) async fn serve(
    listener: TcpListener,
    app: axum::Router,
    tls: Tls,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let handle = axum_server::Handle::new();
    let stopper = tokio::spawn({
        let handle = handle.clone();
        async move {
            shutdown.await;
            handle.graceful_shutdown(None);
        }
    });
    let result = axum_server::tls_rustls::from_tcp_rustls(listener.into_std()?, tls.config)?
        .handle(handle)
        .serve(app.into_make_service())
        .await;
    stopper.abort();
    result
}
