//! The per-container `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`.

use std::net::IpAddr;

use crate::error::{DomainError, DomainResult};

/// Docker's fallback nameservers when the host has none the container can reach.
const FALLBACK_NAMESERVERS: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// `/etc/hostname`.
pub fn hostname_file(hostname: &str) -> String {
    format!("{hostname}\n")
}

/// `/etc/hosts`: the localhost entries, the container's own address if it has one, and the
/// extra `host:ip` entries.
pub fn hosts_file(
    hostname: &str,
    own_ip: Option<IpAddr>,
    extra: &[String],
) -> DomainResult<String> {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for entry in extra {
        let (host, ip) = parse_extra_host(entry)?;
        out.push_str(&format!("{ip}\t{host}\n"));
    }
    if let Some(ip) = own_ip {
        out.push_str(&format!("{ip}\t{hostname}\n"));
    }
    Ok(out)
}

/// Parses `host:ip` (the IP may be IPv6, so split at the first colon).
pub fn parse_extra_host(entry: &str) -> DomainResult<(&str, IpAddr)> {
    let invalid =
        || DomainError::InvalidArgument(format!("invalid extra host {entry:?}: want host:ip"));
    let (host, ip) = entry.split_once(':').ok_or_else(invalid)?;
    let valid_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if !valid_host {
        return Err(invalid());
    }
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    Ok((host, ip.parse().map_err(|_| invalid())?))
}

/// `/etc/resolv.conf` from the host's: with `dns` given, those nameservers; otherwise the host's
/// minus loopback ones (unreachable from another network namespace) unless `host_network`.
/// The host's `search` and `options` lines are kept.
pub fn resolv_conf(host: &str, dns: &[String], host_network: bool) -> DomainResult<String> {
    for server in dns {
        server.parse::<IpAddr>().map_err(|_| {
            DomainError::InvalidArgument(format!(
                "invalid DNS server {server:?}: not an IP address"
            ))
        })?;
    }
    let mut other = Vec::new();
    let mut nameservers = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) {
                    if host_network || !ip.is_loopback() {
                        nameservers.push(ip.to_string());
                    }
                }
            }
            Some("search" | "domain" | "options") => other.push(line.trim().to_owned()),
            _ => {}
        }
    }
    if !dns.is_empty() {
        nameservers = dns.to_vec();
    } else if nameservers.is_empty() && !host_network {
        nameservers = FALLBACK_NAMESERVERS.map(str::to_owned).to_vec();
    }
    let mut out = String::new();
    for ns in nameservers {
        out.push_str(&format!("nameserver {ns}\n"));
    }
    for line in other {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str =
        "# generated\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\noptions edns0\n";

    #[test]
    fn resolv_conf_drops_loopback_servers_outside_the_host_network() {
        let out = resolv_conf(HOST, &[], false).unwrap();
        assert_eq!(out, "nameserver 10.0.0.2\nsearch lan\noptions edns0\n");
        let out = resolv_conf(HOST, &[], true).unwrap();
        assert!(out.starts_with("nameserver 127.0.0.53\nnameserver 10.0.0.2\n"));
    }

    #[test]
    fn resolv_conf_uses_given_servers_or_falls_back() {
        let out = resolv_conf(HOST, &["1.1.1.1".into()], false).unwrap();
        assert_eq!(out, "nameserver 1.1.1.1\nsearch lan\noptions edns0\n");
        let out = resolv_conf("nameserver 127.0.0.1\n", &[], false).unwrap();
        assert_eq!(out, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
        assert!(resolv_conf(HOST, &["nope".into()], false).is_err());
    }

    #[test]
    fn hosts_has_localhost_extras_and_own_address() {
        let out = hosts_file(
            "abc",
            Some("10.1.0.5".parse().unwrap()),
            &["db:10.0.0.9".into(), "v6:::1".into()],
        )
        .unwrap();
        assert!(out.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(out.contains("10.0.0.9\tdb\n"));
        assert!(out.contains("::1\tv6\n"));
        assert!(out.ends_with("10.1.0.5\tabc\n"));
        assert!(!hosts_file("abc", None, &[]).unwrap().contains("abc"));
        assert!(hosts_file("abc", None, &["noip".into()]).is_err());
        assert!(hosts_file("abc", None, &["a b:1.2.3.4".into()]).is_err());
    }
}
