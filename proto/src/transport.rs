//! Connecting a client to berthd's unix socket.

use std::path::PathBuf;

use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint};

/// Opens a channel to the daemon listening on the unix socket at `path`. The connection is
/// made eagerly, so an absent daemon fails here rather than at the first call.
pub async fn connect_unix(path: impl Into<PathBuf>) -> Result<Channel, tonic::transport::Error> {
    let path = path.into();
    // The URI is required by the API but unused: the connector ignores it.
    Endpoint::from_static("http://berthd.invalid")
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move { UnixStream::connect(path).await.map(TokioIo::new) }
        }))
        .await
}
