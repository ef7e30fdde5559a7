//! Fetching a manifest with its Content-Type. oci-client's raw manifest pull drops the header,
//! and SECURITY.md item 8 wants it compared with the document's `mediaType`; reading the body
//! here also caps it while it streams instead of after.

use bytes::{Bytes, BytesMut};
use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::secrets::RegistryAuth;
use reqwest::header::{ACCEPT, CONTENT_TYPE};

use super::client::{install_crypto_provider, is_insecure, map_error, CONNECT_TIMEOUT, USER_AGENT};
use super::manifest::{ACCEPTED, MAX_MANIFEST_BYTES};
use super::RegistryConfig;
use crate::ImageError;

/// A manifest's bytes and the Content-Type the registry sent with them.
pub(crate) struct FetchedManifest {
    pub bytes: Bytes,
    pub content_type: Option<String>,
}

/// GETs the manifest `image` names, authenticated with `bearer` (a token from the registry's
/// token endpoint) or else `auth`'s basic credentials.
pub(crate) async fn fetch_manifest(
    config: &RegistryConfig,
    image: &oci_client::Reference,
    auth: &RegistryAuth,
    bearer: Option<&str>,
    what: &str,
) -> Result<FetchedManifest, ImageError> {
    install_crypto_provider();
    let registry = image.resolve_registry();
    let scheme = if is_insecure(config, registry) {
        "http"
    } else {
        "https"
    };
    let reference = image.digest().or(image.tag()).unwrap_or("latest");
    let url = format!(
        "{scheme}://{registry}/v2/{}/manifests/{reference}",
        image.repository()
    );
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(|e| map_error(what, e.into()))?;
    let mut request = http.get(&url).header(ACCEPT, ACCEPTED.join(", "));
    request = match (bearer, auth) {
        (Some(token), _) => request.bearer_auth(token),
        (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
        (None, RegistryAuth::Bearer(token)) => request.bearer_auth(token),
        (None, RegistryAuth::Anonymous) => request,
    };
    let mut response = request
        .send()
        .await
        .map_err(|e| map_error(what, e.into()))?;
    let status = response.status();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut body = BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| map_error(what, e.into()))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_MANIFEST_BYTES {
            if !status.is_success() {
                break;
            }
            return Err(ImageError::invalid(format!(
                "{what}: the manifest is larger than {MAX_MANIFEST_BYTES} bytes"
            )));
        }
    }
    if !status.is_success() {
        return Err(map_error(what, registry_error(status.as_u16(), url, &body)));
    }
    Ok(FetchedManifest {
        bytes: body.freeze(),
        content_type,
    })
}

/// The registry's error answer: its JSON error envelope when it sent one.
fn registry_error(code: u16, url: String, body: &[u8]) -> OciDistributionError {
    match serde_json::from_slice::<OciEnvelope>(body) {
        Ok(envelope) if !envelope.errors.is_empty() => {
            OciDistributionError::RegistryError { envelope, url }
        }
        _ => OciDistributionError::ServerError {
            code,
            url,
            message: String::from_utf8_lossy(body).into_owned(),
        },
    }
}
