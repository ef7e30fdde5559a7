//! berthd as a process: its socket, health, reflection and graceful shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use berth_proto::node::v1::{GetInfoRequest, GetVersionRequest};
use common::TestDaemon;
use tonic_health::pb::{
    health_check_response::ServingStatus, health_client::HealthClient, HealthCheckRequest,
};

#[tokio::test]
async fn the_socket_is_private_and_health_reports_serving() {
    let daemon = TestDaemon::start();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&daemon.socket()), 0o660);
    assert_eq!(mode(&daemon.exec_root()), 0o700);
    assert_eq!(mode(&daemon.root()), 0o700);

    let mut health = HealthClient::new(daemon.channel().await);
    for service in [
        "",
        "berth.node.v1.ContainerService",
        "berth.node.v1.SystemService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "{service:?}");
    }
}

#[tokio::test]
async fn reflection_lists_the_services_in_v1_and_v1alpha() {
    let daemon = TestDaemon::start();
    let channel = daemon.channel().await;

    use tonic_reflection::pb::v1 as r1;
    let mut v1 = r1::server_reflection_client::ServerReflectionClient::new(channel.clone());
    let request = r1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(r1::server_reflection_request::MessageRequest::ListServices(
            String::new(),
        )),
    };
    let mut responses = v1
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(r1::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        response.message_response
    else {
        panic!("unexpected reflection answer");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in [
        "berth.node.v1.ContainerService",
        "berth.node.v1.ImageService",
        "berth.node.v1.SystemService",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }

    use tonic_reflection::pb::v1alpha as ra;
    let mut alpha = ra::server_reflection_client::ServerReflectionClient::new(channel);
    let request = ra::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            ra::server_reflection_request::MessageRequest::FileContainingSymbol(
                "berth.node.v1.ContainerService".into(),
            ),
        ),
    };
    let mut responses = alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    assert!(matches!(
        response.message_response,
        Some(ra::server_reflection_response::MessageResponse::FileDescriptorResponse(ref f))
            if !f.file_descriptor_proto.is_empty()
    ));
}

#[tokio::test]
async fn version_and_info_describe_the_daemon_and_host() {
    let daemon = TestDaemon::start();
    let mut system = daemon.system().await;
    let version = system
        .get_version(GetVersionRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(version.api_version, "v1");
    assert_eq!(version.runtime, "builtin");
    assert!(!version.kernel_version.is_empty());
    let info = system
        .get_info(GetInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(info.containers, 0);
    assert_eq!(info.images, 0);
    assert!(info.ncpu >= 1 && info.mem_total > 0);
    assert_eq!(info.root_dir, daemon.root().to_string_lossy());
    assert!(["1", "2"].contains(&info.cgroup_version.as_str()));
}

#[tokio::test]
async fn sigterm_shuts_down_cleanly() {
    let mut daemon = TestDaemon::start();
    let status = daemon.terminate().unwrap();
    assert!(status.success(), "{status}\n{}", daemon.log());
    assert!(daemon.log().contains("shutting down"));
}

#[test]
fn tcp_without_tls_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berthd"))
        .arg("--root")
        .arg(dir.path().join("root"))
        .arg("--exec-root")
        .arg(dir.path().join("run"))
        .args(["-H", "tcp://127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("requires mutual TLS"), "{stderr}");
    assert!(!dir.path().join("root").exists());
}

/// A CA, a server certificate for localhost and a client certificate, as PEM.
fn certificates() -> (String, (String, String), (String, String)) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    (ca.pem(), leaf("localhost"), leaf("client"))
}

#[tokio::test]
async fn tcp_serves_only_clients_with_a_certificate_from_the_ca() {
    use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
    let (ca, (server_cert, server_key), (client_cert, client_key)) = certificates();
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, pem: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_string_lossy().into_owned()
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let daemon = TestDaemon::start_with(&[
        "-H".into(),
        format!("tcp://127.0.0.1:{port}"),
        "--tls-ca".into(),
        write("ca.pem", &ca),
        "--tls-cert".into(),
        write("server.pem", &server_cert),
        "--tls-key".into(),
        write("server-key.pem", &server_key),
    ]);
    let endpoint = |tls: ClientTlsConfig| {
        Endpoint::try_from(format!("https://localhost:{port}"))
            .unwrap()
            .tls_config(tls)
            .unwrap()
    };
    let trusted = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&ca))
        .domain_name("localhost");
    let with_identity = trusted
        .clone()
        .identity(Identity::from_pem(&client_cert, &client_key));
    let mut system = berth_proto::node::v1::system_service_client::SystemServiceClient::new(
        endpoint(with_identity).connect().await.unwrap(),
    );
    let version = system.get_version(GetVersionRequest {}).await.unwrap();
    assert_eq!(version.into_inner().api_version, "v1");
    // The unix socket keeps working next to the TCP endpoint.
    assert!(daemon.socket().exists());

    let anonymous = match endpoint(trusted).connect().await {
        Err(_) => true,
        Ok(channel) => HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .is_err(),
    };
    assert!(anonymous, "a client without a certificate was served");
}
