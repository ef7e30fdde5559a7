//! Docker's `config.json` format, which Berth's own `~/.berth/config.json` shares:
//! `{"auths": {"host": {"auth": base64("user:password"), "identitytoken": …}}, "credsStore":
//! …, "credHelpers": {…}}`. Fields Berth does not use are kept as they were.

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A whole config file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ConfigFile {
    /// Credentials per registry key (`host[:port]`, or Docker Hub's URL).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub auths: BTreeMap<String, AuthEntry>,
    /// The credential helper for every registry (`docker-credential-<name>`).
    #[serde(
        rename = "credsStore",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub creds_store: Option<String>,
    /// Credential helpers per registry.
    #[serde(
        rename = "credHelpers",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub cred_helpers: BTreeMap<String, String>,
    /// Everything else, kept.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The credentials of one registry.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthEntry {
    /// base64 of `user:password`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    /// Plain user name (older files).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// Plain password (older files).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// An OAuth2 refresh token.
    #[serde(
        rename = "identitytoken",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub identity_token: String,
    /// A bearer token sent as is.
    #[serde(
        rename = "registrytoken",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub registry_token: String,
    /// Everything else, kept.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// Reads `path`; a missing file is an empty config.
pub fn read(path: &Path) -> Result<ConfigFile> {
    match fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(ConfigFile::default()),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("reading {}: invalid JSON", path.display())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(ConfigFile::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes `config` to `path` atomically (a 0600 temporary file renamed over it), creating its
/// directory with mode 0700: the file holds secrets.
pub fn write(path: &Path, config: &ConfigFile) -> Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no directory", path.display()))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mut bytes = serde_json::to_vec_pretty(config).context("encoding the config")?;
    bytes.push(b'\n');
    let temp = dir.join(format!(".config.json.{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}
