//! Binding the endpoints: unix sockets (0660 in a 0700 directory) and mutual-TLS TCP.

use std::{fs, future::Future, os::unix::fs::PermissionsExt, path::Path};

use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tonic::transport::{server::Router, Certificate, Identity, ServerTlsConfig};

use crate::{
    config::{Endpoint, TlsFiles},
    fsutil,
};

/// Why the server cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An endpoint cannot be bound.
    #[error("listening on {endpoint}: {source}")]
    Bind {
        /// The endpoint.
        endpoint: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The TLS files are unusable.
    #[error("TLS: {0}")]
    Tls(String),
    /// The reflection service cannot be built.
    #[error("reflection: {0}")]
    Reflection(String),
    /// Serving failed.
    #[error("serving: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// A server task failed.
    #[error("server task: {0}")]
    Task(String),
}

/// A bound endpoint.
pub enum Listener {
    /// A unix socket.
    Unix(tokio::net::UnixListener),
    /// A TCP socket, served with mutual TLS only.
    Tcp(tokio::net::TcpListener, Box<ServerTlsConfig>),
}

/// Binds an endpoint. A TCP endpoint without TLS files is refused.
pub async fn bind(endpoint: &Endpoint, tls: Option<&TlsFiles>) -> Result<Listener, ServeError> {
    let bind_error = |source| ServeError::Bind {
        endpoint: endpoint.to_string(),
        source,
    };
    match endpoint {
        Endpoint::Unix(path) => bind_unix(path).map(Listener::Unix).map_err(bind_error),
        Endpoint::Tcp(addr) => {
            let files = tls.ok_or_else(|| {
                ServeError::Tls(
                    "a tcp endpoint requires --tls-ca, --tls-cert and --tls-key".to_owned(),
                )
            })?;
            let config = tls_config(files)?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(bind_error)?;
            Ok(Listener::Tcp(listener, Box::new(config)))
        }
    }
}

fn bind_unix(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        fsutil::private_dir(dir, 0o700)?;
    }
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o660))?;
    Ok(listener)
}

/// The server identity plus the CA client certificates must chain to (client certificates
/// are required).
fn tls_config(files: &TlsFiles) -> Result<ServerTlsConfig, ServeError> {
    let read = |p: &Path| {
        fs::read(p).map_err(|e| ServeError::Tls(format!("reading {}: {e}", p.display())))
    };
    Ok(ServerTlsConfig::new()
        .identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?))
        .client_ca_root(Certificate::from_pem(read(&files.ca)?)))
}

impl Listener {
    /// The TLS settings its server needs, if any.
    pub fn tls(&self) -> Option<ServerTlsConfig> {
        match self {
            Self::Unix(_) => None,
            Self::Tcp(_, tls) => Some(tls.as_ref().clone()),
        }
    }

    /// Serves `router` until `signal`.
    pub async fn serve(
        self,
        router: Router,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        match self {
            Self::Unix(listener) => router
                .serve_with_incoming_shutdown(UnixListenerStream::new(listener), signal)
                .await
                .map_err(ServeError::from),
            Self::Tcp(listener, _) => router
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), signal)
                .await
                .map_err(ServeError::from),
        }
    }
}
