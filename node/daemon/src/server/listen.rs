//! Binding the endpoints: unix sockets (0660 in a 0700 directory) and mutual-TLS TCP.

use std::{fs, future::Future, os::unix::fs::PermissionsExt, path::Path};

use tokio_stream::wrappers::UnixListenerStream;
use tonic::transport::server::Router;

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
}

/// Binds an endpoint.
pub async fn bind(endpoint: &Endpoint, tls: Option<&TlsFiles>) -> Result<Listener, ServeError> {
    match endpoint {
        Endpoint::Unix(path) => {
            bind_unix(path)
                .map(Listener::Unix)
                .map_err(|source| ServeError::Bind {
                    endpoint: endpoint.to_string(),
                    source,
                })
        }
        Endpoint::Tcp(_) => Err(ServeError::Tls(match tls {
            None => "a tcp endpoint requires --tls-ca, --tls-cert and --tls-key".to_owned(),
            Some(_) => {
                "tcp endpoints with mutual TLS are not available in this build yet".to_owned()
            }
        })),
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

impl Listener {
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
        }
    }
}
