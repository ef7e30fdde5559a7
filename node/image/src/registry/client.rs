//! One `oci-client` connection per operation: the scheme a registry may use, the credentials
//! of the request (never cached across requests or users), and the mapping of transport and
//! registry errors onto [`ImageError`].

use std::net::IpAddr;
use std::sync::Once;

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;

use super::{Credentials, RegistryConfig};
use crate::{ImageError, Reference};

/// How long a connection to a registry may take.
pub(crate) const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Where Docker Hub's API lives; references say `docker.io`.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A client for `registry` (a reference's domain), speaking plain HTTP only when the
/// registry is allowed to.
pub(crate) fn connect(config: &RegistryConfig, registry: &str) -> oci_client::Client {
    oci_client::Client::new(client_config(config, registry))
}

/// A client for pushes: `push_blob` sends small blobs in one PUT; big ones stream in chunks
/// through `push_blob_stream_chunked`.
pub(crate) fn connect_for_push(config: &RegistryConfig, registry: &str) -> oci_client::Client {
    oci_client::Client::new(ClientConfig {
        use_monolithic_push: true,
        ..client_config(config, registry)
    })
}

fn client_config(config: &RegistryConfig, registry: &str) -> ClientConfig {
    install_crypto_provider();
    ClientConfig {
        protocol: if is_insecure(config, registry) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        max_concurrent_download: config.max_concurrent_downloads.max(1),
        max_concurrent_upload: config.max_concurrent_uploads.max(1),
        user_agent: USER_AGENT,
        // An unreachable registry fails instead of hanging the operation.
        connect_timeout: Some(CONNECT_TIMEOUT),
        ..ClientConfig::default()
    }
}

/// How Berth introduces itself to registries.
pub(crate) const USER_AGENT: &str = concat!("berth/", env!("CARGO_PKG_VERSION"));

/// rustls needs a process-wide crypto provider; Berth uses ring (no C toolchain beyond cc).
pub(crate) fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Err means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Plain HTTP is allowed for the configured registries and, as in Docker, for `localhost`
/// and loopback addresses.
pub(crate) fn is_insecure(config: &RegistryConfig, registry: &str) -> bool {
    if config.insecure_registries.iter().any(|r| r == registry) {
        return true;
    }
    let host = host_of(registry);
    host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `host` of `host[:port]` and `[v6]:port`.
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    registry.rsplit_once(':').map_or(registry, |(host, _)| host)
}

/// The `oci-client` reference of `reference` (Docker Hub's API host for `docker.io`).
pub(crate) fn oci_reference(reference: &Reference) -> oci_client::Reference {
    let registry = api_host(reference.domain()).to_string();
    let repository = reference.path().to_string();
    match (reference.digest(), reference.tag()) {
        (Some(digest), _) => {
            oci_client::Reference::with_digest(registry, repository, digest.into())
        }
        (None, tag) => oci_client::Reference::with_tag(
            registry,
            repository,
            tag.unwrap_or("latest").to_string(),
        ),
    }
}

/// The host serving a registry's API.
pub(crate) fn api_host(domain: &str) -> &str {
    if domain == "docker.io" || domain == "index.docker.io" {
        DOCKER_HUB_API
    } else {
        domain
    }
}

/// The `oci-client` form of a request's credentials.
pub(crate) fn registry_auth(credentials: &Credentials) -> Result<RegistryAuth, ImageError> {
    if !credentials.registry_token.is_empty() {
        return Ok(RegistryAuth::Bearer(credentials.registry_token.clone()));
    }
    if !credentials.identity_token.is_empty() {
        return Err(ImageError::Unsupported(
            "identity tokens (OAuth2 refresh tokens) are not supported; log in with a \
             password or access token"
                .to_string(),
        ));
    }
    if credentials.username.is_empty() && credentials.password.is_empty() {
        return Ok(RegistryAuth::Anonymous);
    }
    Ok(RegistryAuth::Basic(
        credentials.username.clone(),
        credentials.password.clone(),
    ))
}

/// Classifies a registry failure while doing `what` (for example `pulling busybox:latest`).
pub(crate) fn map_error(what: &str, error: OciDistributionError) -> ImageError {
    match error {
        OciDistributionError::AuthenticationFailure(message) => ImageError::Unauthenticated(
            format!("{what}: authentication failed: {}", message.trim()),
        ),
        OciDistributionError::UnauthorizedError { .. } => {
            ImageError::Unauthenticated(format!("{what}: unauthorized: authentication required"))
        }
        OciDistributionError::ImageManifestNotFoundError(_) => {
            ImageError::NotFound(format!("{what}: manifest unknown"))
        }
        OciDistributionError::RegistryError { envelope, .. } => {
            let message = envelope
                .errors
                .iter()
                .map(|e| {
                    // Docker's form: `unauthorized: authentication required`.
                    let code = serde_json::to_value(&e.code)
                        .ok()
                        .and_then(|v| v.as_str().map(|c| c.to_lowercase().replace('_', " ")))
                        .unwrap_or_else(|| format!("{:?}", e.code));
                    if e.message.is_empty() {
                        code
                    } else {
                        format!("{code}: {}", e.message)
                    }
                })
                .collect::<Vec<_>>()
                .join("; ");
            let text = format!("{what}: {message}");
            match envelope.errors.first().map(|e| &e.code) {
                Some(
                    OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::BlobUnknown
                    | OciErrorCode::NotFound,
                ) => ImageError::NotFound(text),
                Some(OciErrorCode::Unauthorized) => ImageError::Unauthenticated(text),
                Some(OciErrorCode::Denied) => ImageError::PermissionDenied(text),
                Some(OciErrorCode::Unsupported) => ImageError::Unsupported(text),
                Some(
                    OciErrorCode::DigestInvalid
                    | OciErrorCode::SizeInvalid
                    | OciErrorCode::ManifestInvalid
                    | OciErrorCode::ManifestUnverified
                    | OciErrorCode::NameInvalid
                    | OciErrorCode::TagInvalid,
                ) => ImageError::InvalidArgument(text),
                _ => ImageError::Unavailable(text),
            }
        }
        OciDistributionError::ServerError { code, message, .. } => {
            let text = format!("{what}: registry answered {code}: {}", message.trim());
            match code {
                401 => ImageError::Unauthenticated(text),
                403 => ImageError::PermissionDenied(text),
                404 => ImageError::NotFound(text),
                _ => ImageError::Unavailable(text),
            }
        }
        OciDistributionError::DigestError(e) => ImageError::Corrupt(format!("{what}: {e}")),
        OciDistributionError::UnsupportedMediaTypeError(m)
        | OciDistributionError::IncompatibleLayerMediaTypeError(m) => {
            ImageError::Unsupported(format!("{what}: unsupported media type {m}"))
        }
        OciDistributionError::UnsupportedSchemaVersionError(v) => {
            ImageError::Unsupported(format!("{what}: unsupported manifest schema version {v}"))
        }
        OciDistributionError::RequestError(e) => request_error(what, &e),
        other => ImageError::Unavailable(format!("{what}: {other}")),
    }
}

/// A transport failure: unreachable, cut off, or TLS spoken to a plain HTTP server.
fn request_error(what: &str, error: &reqwest::Error) -> ImageError {
    // Status errors of bodiless answers (HEAD): the registry's message is not there to quote.
    match error.status().map(|s| s.as_u16()) {
        Some(401) => {
            return ImageError::Unauthenticated(format!(
                "{what}: unauthorized: authentication required"
            ))
        }
        Some(403) => {
            return ImageError::PermissionDenied(format!(
                "{what}: denied: requested access to the resource is denied"
            ))
        }
        _ => {}
    }
    let chain = error_chain(error);
    if chain.contains("InvalidContentType") || chain.contains("CorruptMessage") {
        return ImageError::PermissionDenied(format!(
            "{what}: the registry answered in plain HTTP; add it to insecure_registries to \
             allow that"
        ));
    }
    ImageError::Unavailable(format!("{what}: {chain}"))
}

/// An error with its sources, `: `-separated.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_configured_registries_may_use_plain_http() {
        let config = RegistryConfig {
            insecure_registries: vec!["registry.lan:5000".into()],
            ..RegistryConfig::default()
        };
        for insecure in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.8.9.1",
            "[::1]:5000",
            "registry.lan:5000",
        ] {
            assert!(is_insecure(&config, insecure), "{insecure}");
        }
        for secure in [
            "registry.lan",
            "docker.io",
            "10.0.0.1:5000",
            "localhost.evil.com",
        ] {
            assert!(!is_insecure(&config, secure), "{secure}");
        }
    }

    #[test]
    fn references_convert_with_docker_hub_api_host() {
        let r = oci_reference(&Reference::parse("busybox").unwrap());
        assert_eq!(r.registry(), "registry-1.docker.io");
        assert_eq!(r.repository(), "library/busybox");
        assert_eq!(r.tag(), Some("latest"));
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = oci_reference(&Reference::parse(&format!("127.0.0.1:5000/app@{digest}")).unwrap());
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.digest(), Some(digest.as_str()));
    }

    #[test]
    fn credentials_pick_the_auth_scheme() {
        let anonymous = registry_auth(&Credentials::default()).unwrap();
        assert!(matches!(anonymous, RegistryAuth::Anonymous));
        let basic = Credentials {
            username: "u".into(),
            password: "p".into(),
            ..Credentials::default()
        };
        assert!(matches!(
            registry_auth(&basic).unwrap(),
            RegistryAuth::Basic(..)
        ));
        let bearer = Credentials {
            registry_token: "t".into(),
            ..Credentials::default()
        };
        assert!(matches!(
            registry_auth(&bearer).unwrap(),
            RegistryAuth::Bearer(_)
        ));
    }
}
