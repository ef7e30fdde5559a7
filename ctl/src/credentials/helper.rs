//! Docker credential helpers: `docker-credential-<name> get` reads the server URL on stdin
//! and prints `{"ServerURL": …, "Username": …, "Secret": …}`.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use berth_proto::node::v1::RegistryAuth;
use serde::Deserialize;

/// What a helper prints.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperCredentials {
    username: String,
    secret: String,
}

/// The user name helpers use for an identity token.
const TOKEN_USER: &str = "<token>";

/// Asks `docker-credential-<helper>` for the credentials of `server`; `None` when it has none.
pub fn get(helper: &str, server: &str) -> Result<Option<RegistryAuth>> {
    get_from(&format!("docker-credential-{helper}"), server)
}

/// As [`get`], running `program`.
pub fn get_from(program: &str, server: &str) -> Result<Option<RegistryAuth>> {
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running the credential helper {program}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .with_context(|| format!("writing to the credential helper {program}"))?;
    }
    let output = child
        .wait_with_output()
        .with_context(|| format!("running the credential helper {program}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let message = if stdout.trim().is_empty() {
            stderr.trim()
        } else {
            stdout.trim()
        };
        bail!("error getting credentials from {program}: {message}");
    }
    let found: HelperCredentials = serde_json::from_str(&stdout)
        .with_context(|| format!("the credential helper {program} printed invalid JSON"))?;
    Ok(Some(if found.username == TOKEN_USER {
        RegistryAuth {
            identity_token: found.secret,
            ..RegistryAuth::default()
        }
    } else {
        RegistryAuth {
            username: found.username,
            password: found.secret,
            ..RegistryAuth::default()
        }
    }))
}
