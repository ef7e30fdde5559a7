//! Network modes of this issue, namespaces and the hostname that goes with them.

use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType};

use super::SpecError;

/// Where the container's network lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// A new network namespace with only `lo` (which the runtime brings up).
    None,
    /// The host's network namespace.
    Host,
}

/// `none` (also the default: empty or `default`) or `host`. `bridge` comes with bridge
/// networking; any other name is a user-defined network, and none exist yet.
pub fn parse_network_mode(mode: &str) -> Result<NetworkMode, SpecError> {
    match mode {
        "" | "none" | "default" => Ok(NetworkMode::None),
        "host" => Ok(NetworkMode::Host),
        "bridge" => Err(SpecError::Unsupported(
            "network mode bridge is not supported yet".into(),
        )),
        other => Err(SpecError::Invalid(format!("network {other} not found"))),
    }
}

/// Every namespace but user, and net unless the host's network is shared.
pub fn namespaces(mode: NetworkMode) -> Vec<LinuxNamespace> {
    let mut types = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    if mode == NetworkMode::None {
        types.push(LinuxNamespaceType::Network);
    }
    types
        .into_iter()
        .map(|typ| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(typ).set_path(None);
            ns
        })
        .collect()
}

/// The configured hostname, else the host's for `host` networking (as Docker), else the
/// first 12 characters of the ID.
pub fn hostname(configured: &str, id: &str, mode: NetworkMode) -> Result<String, SpecError> {
    if !configured.is_empty() {
        check_name(configured, "hostname")?;
        return Ok(configured.to_owned());
    }
    if mode == NetworkMode::Host {
        if let Ok(name) = nix::unistd::gethostname() {
            return Ok(name.to_string_lossy().into_owned());
        }
    }
    Ok(id.chars().take(12).collect())
}

/// A host or domain name the kernel accepts and `/etc/hosts` can hold: at most 64 bytes of
/// letters, digits, `-`, `_` and `.`.
pub fn check_name(name: &str, what: &str) -> Result<(), SpecError> {
    let valid = name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(SpecError::Invalid(format!(
            "invalid {what} {name:?}: at most 64 letters, digits, '-', '_' or '.'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn modes() {
        assert_eq!(parse_network_mode("").unwrap(), NetworkMode::None);
        assert_eq!(parse_network_mode("none").unwrap(), NetworkMode::None);
        assert_eq!(parse_network_mode("host").unwrap(), NetworkMode::Host);
        assert_eq!(
            parse_network_mode("bridge").unwrap_err().to_string(),
            "network mode bridge is not supported yet"
        );
        assert!(parse_network_mode("container:web").is_err());
        assert_eq!(parse_network_mode("default").unwrap(), NetworkMode::None);
        assert!(matches!(
            parse_network_mode("bridge"),
            Err(SpecError::Unsupported(_))
        ));
        let unknown = parse_network_mode("mynet").unwrap_err();
        assert!(matches!(unknown, SpecError::Invalid(_)));
        assert_eq!(unknown.to_string(), "network mynet not found");
    }

    #[test]
    fn host_mode_has_no_network_namespace() {
        let has_net = |mode| {
            namespaces(mode)
                .iter()
                .any(|ns| ns.typ() == LinuxNamespaceType::Network)
        };
        assert!(has_net(NetworkMode::None));
        assert!(!has_net(NetworkMode::Host));
        assert_eq!(namespaces(NetworkMode::None).len(), 6);
    }

    #[test]
    fn hostnames() {
        let id = "0123456789abcdef0123";
        assert_eq!(hostname("", id, NetworkMode::None).unwrap(), "0123456789ab");
        assert_eq!(hostname("web-1", id, NetworkMode::None).unwrap(), "web-1");
        let host = nix::unistd::gethostname().unwrap();
        assert_eq!(
            hostname("", id, NetworkMode::Host).unwrap(),
            host.to_string_lossy()
        );
        assert!(hostname("bad name", id, NetworkMode::None).is_err());
        assert!(hostname(&"a".repeat(65), id, NetworkMode::None).is_err());
    }

    proptest! {
        #[test]
        fn mode_parser_never_panics(mode in "\\PC{0,20}") {
            let _ = parse_network_mode(&mode);
        }
    }
}
