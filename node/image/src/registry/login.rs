//! Login: checks credentials against a registry, as `docker login` does, and stores nothing.
//!
//! The registry's `/v2/` challenge decides: a Bearer challenge sends the credentials to the
//! token endpoint (through `oci-client`), whose token then has to open `/v2/`; a Basic
//! challenge (or none) has the credentials themselves open `/v2/`.

use oci_client::secrets::RegistryAuth;
use oci_client::RegistryOperation;
use reqwest::StatusCode;
use serde::Deserialize;

use super::client::{
    api_host, connect, install_crypto_provider, is_insecure, map_error, registry_auth, USER_AGENT,
};
use super::{Credentials, LoginOutcome, RegistryConfig};
use crate::ImageError;

/// The registry Docker means by an empty name and by its legacy index address.
const DOCKER_HUB: &str = "docker.io";
/// Token endpoints want a repository scope; a login only proves the credentials, so any
/// name serves (a token with no access to it is still a token).
const SCOPE_REPOSITORY: &str = "berth/login";

/// Checks `credentials` against `registry` (`host[:port]`, optionally as a URL).
pub(super) async fn login(
    config: &RegistryConfig,
    registry: &str,
    credentials: &Credentials,
) -> Result<LoginOutcome, ImageError> {
    let domain = registry_domain(registry);
    if credentials.username.is_empty() && credentials.registry_token.is_empty() {
        return Err(ImageError::invalid(
            "login requires a username and a password",
        ));
    }
    let host = api_host(&domain).to_string();
    let scheme = if is_insecure(config, &domain) {
        "http"
    } else {
        "https"
    };
    let version_url = format!("{scheme}://{host}/v2/");
    let what = format!("login to {version_url}");
    let auth = registry_auth(credentials)?;
    let scope = oci_client::Reference::with_tag(
        host.clone(),
        SCOPE_REPOSITORY.to_string(),
        "latest".to_string(),
    );
    let token = connect(config, &domain)
        .auth(&scope, &auth, RegistryOperation::Pull)
        .await
        .map_err(|e| map_error(&what, e))?;

    install_crypto_provider();
    let http = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .build()
        .map_err(|e| ImageError::Unavailable(format!("{what}: {e}")))?;
    let request = http.get(&version_url);
    let request = match (token, &auth) {
        (Some(token), _) => request.bearer_auth(token),
        (None, RegistryAuth::Basic(user, password)) => request.basic_auth(user, Some(password)),
        (None, RegistryAuth::Bearer(token)) => request.bearer_auth(token),
        (None, RegistryAuth::Anonymous) => request,
    };
    let response = request
        .send()
        .await
        .map_err(|e| map_error(&what, e.into()))?;
    let status = response.status();
    if status.is_success() {
        return Ok(LoginOutcome {
            status: "Login Succeeded".to_string(),
            identity_token: String::new(),
        });
    }
    let body = response.text().await.unwrap_or_default();
    let text = format!(
        "login attempt to {version_url} failed with status: {status}{}",
        registry_message(&body).map_or_else(String::new, |m| format!(": {m}"))
    );
    Err(match status {
        StatusCode::UNAUTHORIZED => ImageError::Unauthenticated(text),
        StatusCode::FORBIDDEN => ImageError::PermissionDenied(text),
        _ => ImageError::Unavailable(text),
    })
}

/// The registry a user named: `host[:port]` from a bare name or a URL; Docker Hub for an
/// empty name and its legacy addresses.
pub(super) fn registry_domain(registry: &str) -> String {
    let trimmed = registry
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = trimmed.split('/').next().unwrap_or_default();
    match host {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        other => other.to_string(),
    }
}

/// The `message`s of an OCI error body, `; `-separated.
fn registry_message(body: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Envelope {
        errors: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        message: String,
    }
    let envelope: Envelope = serde_json::from_str(body).ok()?;
    let messages: Vec<String> = envelope
        .errors
        .into_iter()
        .map(|e| e.message)
        .filter(|m| !m.is_empty())
        .collect();
    (!messages.is_empty()).then(|| messages.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_and_urls_resolve_to_a_domain() {
        assert_eq!(registry_domain(""), "docker.io");
        assert_eq!(registry_domain("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(
            registry_domain("http://127.0.0.1:5000/v2/"),
            "127.0.0.1:5000"
        );
        assert_eq!(registry_domain("ghcr.io"), "ghcr.io");
    }

    #[test]
    fn registry_error_bodies_give_their_messages() {
        let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;
        assert_eq!(
            registry_message(body).as_deref(),
            Some("authentication required")
        );
        assert_eq!(registry_message("<html>"), None);
    }
}
