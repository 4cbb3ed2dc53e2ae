//! The server's TLS around startup: its certificate read again on SIGHUP, and a database
//! connection refused over TLS explained in terms of the URL's `sslmode` and `sslrootcert`.

/// Reads the certificate and key again on each SIGHUP (a renewal script's `kill -HUP`): new
/// connections get the new pair. A pair that cannot be read or does not fit keeps the old
/// one in use, and the log says why.
pub fn reload_on_sighup(tls: railyard_server::Tls) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate and key reloaded (SIGHUP)"),
                Err(e) => {
                    tracing::error!("TLS certificate not reloaded, the one in use stays: {e}")
                }
            }
        }
    });
}

/// The error of opening the server's database; when TLS refused the connection, an input
/// error saying which URL parameter to change.
pub fn database_error(e: railyard_store::StoreError) -> anyhow::Error {
    let chain = railyard_types::error::Chain(&e).to_string();
    let advice = if chain.contains("certificate") {
        Some(
            "PostgreSQL's TLS certificate is not one this server trusts: give the CA that \
             issued it in the database URL as `sslrootcert=/path/to/ca.pem` (sslmode=verify-full \
             checks the host name too), or use sslmode=require to encrypt without checking who \
             answers",
        )
    } else if chain.contains("does not support TLS") || chain.contains("not support SSL") {
        Some(
            "this PostgreSQL server does not offer TLS, and the URL's sslmode requires it: turn \
             `ssl = on` in postgresql.conf (with its certificate and key), or lower sslmode",
        )
    } else {
        None
    };
    match advice {
        Some(advice) => super::Expected::Input(format!("{advice}. {chain}")).into(),
        None => anyhow::Error::new(e).context("opening the server's database"),
    }
}
