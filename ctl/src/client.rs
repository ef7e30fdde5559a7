//! The connection to berthd: a unix socket (`unix:///path`), or TCP with mutual TLS
//! (`tcp://host:port`, certificates from `--tls-*` or `~/.berth/{ca,cert,key}.pem`).

use anyhow::{bail, Context, Result};
use berth_proto::node::v1::{
    container_service_client::ContainerServiceClient, image_service_client::ImageServiceClient,
    system_service_client::SystemServiceClient,
};
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

/// The default daemon address.
pub const DEFAULT_HOST: &str = "unix:///run/berth/berthd.sock";

/// gRPC messages up to this size are accepted (inspect of many containers, big log lines).
const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// The client's TLS files for tcp:// hosts; unset ones default to `~/.berth/`.
#[derive(Debug, Default, Clone)]
pub struct TlsFiles {
    /// The CA certificate the daemon's certificate must chain to.
    pub ca: Option<PathBuf>,
    /// The client certificate.
    pub cert: Option<PathBuf>,
    /// The client certificate's key.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// Reads the three PEM files; `home` holds the defaults (`ca.pem`, `cert.pem`, `key.pem`).
    fn read(&self, home: Option<&Path>) -> Result<(Vec<u8>, Vec<u8>, Vec<u8>)> {
        let read = |given: &Option<PathBuf>, default: &str, what: &str| -> Result<Vec<u8>> {
            let path = match (given, home) {
                (Some(path), _) => path.clone(),
                (None, Some(home)) => home.join(".berth").join(default),
                (None, None) => {
                    bail!("no {what} given (--tls-*) and no home directory for ~/.berth/{default}")
                }
            };
            std::fs::read(&path).with_context(|| format!("reading the {what} {}", path.display()))
        };
        Ok((
            read(&self.ca, "ca.pem", "CA certificate")?,
            read(&self.cert, "cert.pem", "client certificate")?,
            read(&self.key, "key.pem", "client key")?,
        ))
    }
}

/// Clients of the three services, sharing one connection.
#[derive(Clone)]
pub struct Clients {
    channel: Channel,
}

impl Clients {
    /// Prepares a connection to `host`; it is made at the first call.
    pub fn connect(host: &str, tls: &TlsFiles) -> Result<Clients> {
        let channel = if let Some(path) = host.strip_prefix("unix://") {
            unix_channel(PathBuf::from(path))?
        } else if let Some(address) = host.strip_prefix("tcp://") {
            let home = std::env::var_os("HOME").map(PathBuf::from);
            tcp_channel(address, tls, home.as_deref())?
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

/// A TCP connection with mutual TLS; the daemon's certificate must name the host.
fn tcp_channel(address: &str, tls: &TlsFiles, home: Option<&Path>) -> Result<Channel> {
    let host = match address.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => host,
        _ => bail!("invalid host 'tcp://{address}': expected tcp://host:port"),
    };
    let (ca, cert, key) = tls.read(home)?;
    let config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .identity(Identity::from_pem(cert, key))
        .domain_name(host.trim_start_matches('[').trim_end_matches(']'));
    let endpoint = Endpoint::from_shared(format!("https://{address}"))
        .with_context(|| format!("invalid host 'tcp://{address}'"))?
        .tls_config(config)
        .context("loading the TLS certificates")?;
    Ok(endpoint.connect_lazy())
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
        let clients = Clients::connect(&host, &TlsFiles::default()).unwrap();
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
        assert!(Clients::connect("unix://", &TlsFiles::default()).is_err());
        assert!(Clients::connect("http://x", &TlsFiles::default()).is_err());
        let dir = tempfile::tempdir().unwrap();
        let error = tcp_channel("localhost:1", &TlsFiles::default(), Some(dir.path())).unwrap_err();
        assert!(format!("{error:#}").contains(".berth/ca.pem"), "{error:#}");
        assert!(tcp_channel("localhost", &TlsFiles::default(), Some(dir.path())).is_err());
    }

    /// A CA, a server certificate for localhost and a client certificate, as PEM.
    fn certificates() -> (String, (String, String), (String, String)) {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(vec![name.to_string()])
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        };
        (ca.pem(), leaf("localhost"), leaf("client"))
    }

    #[tokio::test]
    async fn mutual_tls_over_tcp() {
        use tonic::transport::{Server, ServerTlsConfig};
        use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
        let (ca, (server_cert, server_key), (client_cert, client_key)) = certificates();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (_reporter, health) = tonic_health::server::health_reporter();
        let server_tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(&server_cert, &server_key))
            .client_ca_root(Certificate::from_pem(&ca));
        let server = Server::builder()
            .tls_config(server_tls)
            .unwrap()
            .add_service(health)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener));
        tokio::spawn(server);

        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).unwrap();
            Some(path)
        };
        let files = TlsFiles {
            ca: write("ca.pem", &ca),
            cert: write("cert.pem", &client_cert),
            key: write("key.pem", &client_key),
        };
        let channel = tcp_channel(&format!("localhost:{port}"), &files, None).unwrap();
        let reply = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(reply.into_inner().status, 1, "SERVING");

        // Without a client certificate the daemon's side refuses the handshake.
        let (other_ca, (other_cert, other_key), _) = certificates();
        let strangers = TlsFiles {
            ca: write("ca2.pem", &ca),
            cert: write("cert2.pem", &other_cert),
            key: write("key2.pem", &other_key),
        };
        let channel = tcp_channel(&format!("localhost:{port}"), &strangers, None).unwrap();
        assert!(HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new()
            })
            .await
            .is_err());
        // A daemon certificate from another CA is refused by the client.
        let wrong_ca = TlsFiles {
            ca: write("ca3.pem", &other_ca),
            ..files
        };
        let channel = tcp_channel(&format!("localhost:{port}"), &wrong_ca, None).unwrap();
        assert!(HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new()
            })
            .await
            .is_err());
    }
}
