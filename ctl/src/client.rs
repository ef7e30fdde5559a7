//! The connection to berthd: a unix socket (`unix:///path`), or TCP (`tcp://host:port`).

use anyhow::{bail, Context, Result};
use berth_proto::node::v1::{
    container_service_client::ContainerServiceClient, image_service_client::ImageServiceClient,
    system_service_client::SystemServiceClient,
};
use hyper_util::rt::TokioIo;
use std::path::PathBuf;
use tonic::transport::{Channel, Endpoint, Uri};

/// The default daemon address.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berthd.sock";

/// gRPC messages up to this size are accepted (inspect of many containers, big log lines).
const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Clients of the three services, sharing one connection.
#[derive(Clone)]
pub struct Clients {
    channel: Channel,
}

impl Clients {
    /// Prepares a connection to `host`; it is made at the first call.
    pub fn connect(host: &str) -> Result<Clients> {
        let channel = if let Some(path) = host.strip_prefix("unix://") {
            unix_channel(PathBuf::from(path))?
        } else if let Some(address) = host.strip_prefix("tcp://") {
            bail!("tcp://{address}: TCP with mTLS is not supported yet; use a unix:// socket")
        } else {
            bail!("invalid host '{host}': expected unix:///path or tcp://host:port")
        };
        Ok(Clients { channel })
    }

    /// The container service.
    pub fn containers(&self) -> ContainerServiceClient<Channel> {
        ContainerServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// The image service.
    pub fn images(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_SIZE)
    }

    /// The system service.
    pub fn system(&self) -> SystemServiceClient<Channel> {
        SystemServiceClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE_SIZE)
    }
}

fn unix_channel(path: PathBuf) -> Result<Channel> {
    if path.as_os_str().is_empty() {
        bail!("invalid host 'unix://': no socket path");
    }
    // The URI is required by the API but unused: the connector always dials the socket.
    let endpoint = Endpoint::try_from("http://berthd.local").context("building the endpoint")?;
    Ok(
        endpoint.connect_with_connector_lazy(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let stream = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::describe;
    use berth_proto::node::v1::GetVersionRequest;

    #[tokio::test]
    async fn a_missing_socket_is_reported_as_no_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let host = format!("unix://{}/none.sock", dir.path().display());
        let clients = Clients::connect(&host).unwrap();
        let status = clients
            .system()
            .get_version(GetVersionRequest {})
            .await
            .unwrap_err();
        let (code, message) = describe(&anyhow::Error::new(status), &host);
        assert_eq!(code, 125);
        assert!(
            message.starts_with(&format!("Cannot connect to the berth daemon at {host}")),
            "{message}"
        );
    }

    #[test]
    fn hosts() {
        assert!(Clients::connect("unix://").is_err());
        assert!(Clients::connect("http://x").is_err());
    }
}
