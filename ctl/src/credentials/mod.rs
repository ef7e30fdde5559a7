//! Registry credentials on the client: Berth's own `~/.berth/config.json` (written by
//! `login`, mode 0600), then Docker's `~/.docker/config.json` and its credential helpers as a
//! fallback. The CLI sends them with each request; berthd never stores them.

mod config_file;
mod helper;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use base64::{engine::general_purpose::STANDARD, Engine};
use berth_proto::node::v1::RegistryAuth;

use crate::commands::image_name::DOCKER_HUB;
use config_file::{AuthEntry, ConfigFile};

/// The key Docker uses for Docker Hub in config files and credential helpers.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// Where the config files are.
pub struct Locations {
    /// Berth's `config.json`.
    pub berth: PathBuf,
    /// Docker's `config.json`.
    pub docker: PathBuf,
}

impl Locations {
    /// `$BERTH_CONFIG/config.json` (default `~/.berth`) and `$DOCKER_CONFIG/config.json`
    /// (default `~/.docker`).
    pub fn from_env() -> Result<Locations> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let dir = |var: &str, default: &str| -> Result<PathBuf> {
            match std::env::var_os(var) {
                Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
                _ => home
                    .as_ref()
                    .map(|h| h.join(default))
                    .context("$HOME is not set: cannot find the credentials file"),
            }
        };
        Ok(Locations {
            berth: dir("BERTH_CONFIG", ".berth")?.join("config.json"),
            docker: dir("DOCKER_CONFIG", ".docker")?.join("config.json"),
        })
    }

    /// The credentials for `domain` (`host[:port]`, `docker.io`), if any are stored.
    pub fn lookup(&self, domain: &str) -> Result<Option<RegistryAuth>> {
        let berth = config_file::read(&self.berth)?;
        if let Some(entry) = find(&berth, domain) {
            return decode(entry).map(Some);
        }
        let docker = config_file::read(&self.docker)?;
        let helper = docker
            .cred_helpers
            .iter()
            .find(|(key, _)| normalise(key) == domain)
            .map(|(_, helper)| helper)
            .or(docker.creds_store.as_ref());
        if let Some(helper) = helper.filter(|h| !h.is_empty()) {
            return helper::get(helper, &server_key(domain));
        }
        find(&docker, domain).map(decode).transpose()
    }

    /// Stores credentials for `domain` in Berth's file.
    pub fn store(&self, domain: &str, username: &str, password: &str, token: &str) -> Result<()> {
        let mut config = config_file::read(&self.berth)?;
        config.auths.retain(|key, _| normalise(key) != domain);
        let entry = if token.is_empty() {
            AuthEntry {
                auth: STANDARD.encode(format!("{username}:{password}")),
                ..AuthEntry::default()
            }
        } else {
            AuthEntry {
                auth: STANDARD.encode(format!("{username}:")),
                identity_token: token.to_string(),
                ..AuthEntry::default()
            }
        };
        config.auths.insert(server_key(domain), entry);
        config_file::write(&self.berth, &config)
    }

    /// Removes the credentials for `domain` from Berth's file; false when there were none.
    pub fn remove(&self, domain: &str) -> Result<bool> {
        let mut config = config_file::read(&self.berth)?;
        let before = config.auths.len();
        config.auths.retain(|key, _| normalise(key) != domain);
        if config.auths.len() == before {
            return Ok(false);
        }
        config_file::write(&self.berth, &config)?;
        Ok(true)
    }

    /// The user name stored for `domain`, for the login prompt.
    pub fn stored_username(&self, domain: &str) -> Option<String> {
        self.lookup(domain)
            .ok()
            .flatten()
            .map(|auth| auth.username)
            .filter(|u| !u.is_empty())
    }
}

/// The credentials to send for `domain`: stored ones, or none (anonymous) when there are
/// none or no home directory to find them in.
pub fn for_registry(domain: &str) -> Result<Option<RegistryAuth>> {
    match Locations::from_env() {
        Ok(locations) => locations.lookup(domain),
        Err(_) => Ok(None),
    }
}

/// The config key of a registry: Docker Hub's legacy URL, otherwise `host[:port]`.
pub fn server_key(domain: &str) -> String {
    if domain == DOCKER_HUB {
        DOCKER_HUB_KEY.to_string()
    } else {
        domain.to_string()
    }
}

/// The registry a login names (`host[:port]`, a URL, or nothing for Docker Hub).
pub fn normalise(server: &str) -> String {
    let host = server
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default();
    match host {
        "" | "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
        other => other.to_string(),
    }
}

fn find<'c>(config: &'c ConfigFile, domain: &str) -> Option<&'c AuthEntry> {
    config.auths.get(&server_key(domain)).or_else(|| {
        config
            .auths
            .iter()
            .find(|(key, _)| normalise(key) == domain)
            .map(|(_, e)| e)
    })
}

fn decode(entry: &AuthEntry) -> Result<RegistryAuth> {
    let (username, password) = if entry.auth.is_empty() {
        (entry.username.clone(), entry.password.clone())
    } else {
        let bytes = STANDARD
            .decode(entry.auth.trim())
            .context("invalid auth configuration: not base64")?;
        let text = String::from_utf8(bytes).context("invalid auth configuration: not UTF-8")?;
        let Some((user, password)) = text.split_once(':') else {
            bail!("invalid auth configuration: no user:password");
        };
        (user.to_string(), password.to_string())
    };
    Ok(RegistryAuth {
        username,
        password,
        identity_token: entry.identity_token.clone(),
        registry_token: entry.registry_token.clone(),
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn locations(dir: &std::path::Path) -> Locations {
        Locations {
            berth: dir.join("berth/config.json"),
            docker: dir.join("docker/config.json"),
        }
    }

    #[test]
    fn stored_credentials_come_back_and_go_away() {
        let dir = tempfile::tempdir().unwrap();
        let at = locations(dir.path());
        assert_eq!(at.lookup("127.0.0.1:5000").unwrap(), None);
        at.store("127.0.0.1:5000", "me", "pa:ss", "").unwrap();
        at.store(DOCKER_HUB, "hubber", "pw", "").unwrap();
        let found = at.lookup("127.0.0.1:5000").unwrap().unwrap();
        assert_eq!(
            (found.username.as_str(), found.password.as_str()),
            ("me", "pa:ss")
        );
        let text = std::fs::read_to_string(&at.berth).unwrap();
        assert!(text.contains(DOCKER_HUB_KEY), "{text}");
        assert!(text.contains(&STANDARD.encode("me:pa:ss")), "{text}");
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&at.berth), 0o600);
        assert_eq!(mode(at.berth.parent().unwrap()), 0o700);
        assert!(at.remove("127.0.0.1:5000").unwrap());
        assert!(!at.remove("127.0.0.1:5000").unwrap());
        assert_eq!(at.lookup("127.0.0.1:5000").unwrap(), None);
        assert_eq!(at.stored_username(DOCKER_HUB).as_deref(), Some("hubber"));
    }

    #[test]
    fn docker_config_is_the_fallback_and_unknown_fields_survive() {
        let dir = tempfile::tempdir().unwrap();
        let at = locations(dir.path());
        std::fs::create_dir_all(at.docker.parent().unwrap()).unwrap();
        let auth = STANDARD.encode("dock:er");
        std::fs::write(
            &at.docker,
            format!(r#"{{"auths": {{"https://ghcr.io/v2/": {{"auth": "{auth}"}}}}}}"#),
        )
        .unwrap();
        let found = at.lookup("ghcr.io").unwrap().unwrap();
        assert_eq!(
            (found.username.as_str(), found.password.as_str()),
            ("dock", "er")
        );

        std::fs::create_dir_all(at.berth.parent().unwrap()).unwrap();
        std::fs::write(&at.berth, r#"{"psFormat": "table {{.ID}}", "auths": {}}"#).unwrap();
        at.store("ghcr.io", "mine", "pw", "").unwrap();
        let text = std::fs::read_to_string(&at.berth).unwrap();
        assert!(text.contains("psFormat"), "{text}");
        assert_eq!(at.lookup("ghcr.io").unwrap().unwrap().username, "mine");
    }

    #[test]
    fn credential_helpers_answer_for_their_registries() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("docker-credential-test");
        std::fs::write(
            &script,
            "#!/bin/sh\nread server\ncase \"$server\" in\n\
             https://index.docker.io/v1/) echo '{\"ServerURL\":\"x\",\"Username\":\"hub\",\"Secret\":\"s3\"}';;\n\
             token.io) echo '{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"t0k\"}';;\n\
             *) echo 'credentials not found in native keychain'; exit 1;;\nesac\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let program = script.to_str().unwrap();
        let hub = helper::get_from(program, &server_key(DOCKER_HUB))
            .unwrap()
            .unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("hub", "s3")
        );
        let token = helper::get_from(program, "token.io").unwrap().unwrap();
        assert_eq!(token.identity_token, "t0k");
        assert_eq!(helper::get_from(program, "other.io").unwrap(), None);
    }

    #[test]
    fn servers_normalise_to_registry_domains() {
        assert_eq!(normalise(""), DOCKER_HUB);
        assert_eq!(normalise(DOCKER_HUB_KEY), DOCKER_HUB);
        assert_eq!(normalise("http://127.0.0.1:5000/v2/"), "127.0.0.1:5000");
        assert_eq!(server_key("ghcr.io"), "ghcr.io");
    }
}
