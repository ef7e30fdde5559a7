//! Storage flags: `-v SRC:DST[:OPTS]`, `--mount k=v,…` and `--tmpfs DST[:OPTS]`.

use super::size::parse_bytes;
use berth_proto::node::v1::{Mount, MountType};

/// Named volumes arrive in a later issue; refused until then.
const VOLUMES_UNSUPPORTED: &str = "volumes are not supported yet";

const PROPAGATIONS: &[&str] = &[
    "private", "rprivate", "shared", "rshared", "slave", "rslave",
];

/// Parses `-v /host:/dst[:ro|rw][,propagation]`. Only bind mounts exist for now.
pub fn parse_volume(spec: &str) -> Result<Mount, String> {
    let invalid = || format!("invalid volume specification: '{spec}'");
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => {
            return Err(if target.starts_with('/') {
                VOLUMES_UNSUPPORTED.to_string()
            } else {
                invalid()
            })
        }
        [source, target] => (*source, *target, ""),
        [source, target, options] => (*source, *target, *options),
        _ => return Err(invalid()),
    };
    if !target.starts_with('/') {
        return Err(format!(
            "{}: destination must be an absolute path",
            invalid()
        ));
    }
    if !source.starts_with('/') {
        return Err(if is_volume_name(source) {
            VOLUMES_UNSUPPORTED.to_string()
        } else {
            format!(
                "{}: \"{source}\" is neither an absolute host path nor a volume name",
                invalid()
            )
        });
    }
    let mut mount = Mount {
        r#type: MountType::Bind as i32,
        source: source.to_string(),
        target: target.to_string(),
        ..Mount::default()
    };
    let mut mode_seen = false;
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" | "rw" if !mode_seen => {
                mode_seen = true;
                mount.read_only = option == "ro";
            }
            p if PROPAGATIONS.contains(&p) && mount.options.is_empty() => {
                mount.options.push(p.to_string())
            }
            "nocopy" => return Err(VOLUMES_UNSUPPORTED.to_string()),
            _ => return Err(format!("{}: unknown option '{option}'", invalid())),
        }
    }
    Ok(mount)
}

/// Parses `--mount type=bind|tmpfs|volume,source=…,target=…,readonly,…`.
pub fn parse_mount(spec: &str) -> Result<Mount, String> {
    let mut kind = "volume";
    let mut mount = Mount::default();
    let mut tmpfs_options = false;
    let mut bind_options = false;
    for field in spec.split(',') {
        let (key, value) = match field.split_once('=') {
            Some((key, value)) => (key.trim().to_ascii_lowercase(), Some(value)),
            None => (field.trim().to_ascii_lowercase(), None),
        };
        let needs_value =
            || value.ok_or_else(|| format!("invalid field '{field}' must be a key=value pair"));
        match key.as_str() {
            "type" => kind = needs_value()?,
            "source" | "src" => mount.source = needs_value()?.to_string(),
            "target" | "destination" | "dst" => mount.target = needs_value()?.to_string(),
            "readonly" | "ro" => mount.read_only = parse_bool(field, value)?,
            "bind-propagation" => {
                let propagation = needs_value()?;
                if !PROPAGATIONS.contains(&propagation) {
                    return Err(format!(
                        "invalid value for bind-propagation: '{propagation}'"
                    ));
                }
                mount.options.push(propagation.to_string());
                bind_options = true;
            }
            "tmpfs-size" => {
                mount.tmpfs_size = parse_bytes(needs_value()?)?;
                tmpfs_options = true;
            }
            "tmpfs-mode" => {
                mount.tmpfs_mode = parse_mode(needs_value()?)?;
                tmpfs_options = true;
            }
            "consistency" => {
                needs_value()?;
            }
            k if k.starts_with("volume-") => return Err(VOLUMES_UNSUPPORTED.to_string()),
            _ => return Err(format!("unexpected key '{key}' in '{field}'")),
        }
    }
    if mount.target.is_empty() {
        return Err("target is required".to_string());
    }
    if !mount.target.starts_with('/') {
        return Err(format!(
            "invalid mount target '{}': must be an absolute path",
            mount.target
        ));
    }
    mount.r#type = match kind {
        "bind" => {
            if tmpfs_options {
                return Err("cannot mix 'tmpfs-*' options with mount type 'bind'".to_string());
            }
            if !mount.source.starts_with('/') {
                return Err(format!(
                    "invalid mount config for type \"bind\": source must be an absolute path, got '{}'",
                    mount.source
                ));
            }
            MountType::Bind
        }
        "tmpfs" => {
            if bind_options {
                return Err("cannot mix 'bind-*' options with mount type 'tmpfs'".to_string());
            }
            if !mount.source.is_empty() {
                return Err(
                    "invalid mount config for type \"tmpfs\": source must not be specified"
                        .to_string(),
                );
            }
            MountType::Tmpfs
        }
        "volume" => return Err(VOLUMES_UNSUPPORTED.to_string()),
        other => return Err(format!("invalid mount type '{other}'")),
    } as i32;
    Ok(mount)
}

/// Parses `--tmpfs /dst[:size=64m,mode=1777,ro,noexec,…]`.
pub fn parse_tmpfs(spec: &str) -> Result<Mount, String> {
    let (target, options) = spec.split_once(':').unwrap_or((spec, ""));
    if !target.starts_with('/') {
        return Err(format!(
            "invalid tmpfs destination '{target}': must be an absolute path"
        ));
    }
    let mut mount = Mount {
        r#type: MountType::Tmpfs as i32,
        target: target.to_string(),
        ..Mount::default()
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("size", size)) => mount.tmpfs_size = parse_bytes(size)?,
            Some(("mode", mode)) => mount.tmpfs_mode = parse_mode(mode)?,
            None if option == "ro" => mount.read_only = true,
            None if option == "rw" => mount.read_only = false,
            _ => mount.options.push(option.to_string()),
        }
    }
    Ok(mount)
}

/// A volume name as Docker allows it: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn is_volume_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() > 1
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn parse_bool(field: &str, value: Option<&str>) -> Result<bool, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(format!("invalid value for '{field}': expected a boolean")),
    }
}

fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|mode| *mode <= 0o7777)
        .ok_or_else(|| format!("invalid tmpfs mode '{text}': expected octal permission bits"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn volume_binds() {
        let m = parse_volume("/srv/data:/data:ro").unwrap();
        assert_eq!(
            (
                m.r#type(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only
            ),
            (MountType::Bind, "/srv/data", "/data", true)
        );
        let m = parse_volume("/a:/b").unwrap();
        assert!(!m.read_only && m.options.is_empty());
        let m = parse_volume("/a:/b:rw,rshared").unwrap();
        assert_eq!(m.options, ["rshared"]);
    }

    #[test]
    fn volume_refusals() {
        assert_eq!(parse_volume("data:/data").unwrap_err(), VOLUMES_UNSUPPORTED);
        assert_eq!(parse_volume("/anon").unwrap_err(), VOLUMES_UNSUPPORTED);
        assert_eq!(
            parse_volume("/a:/b:nocopy").unwrap_err(),
            VOLUMES_UNSUPPORTED
        );
        for bad in [
            "./rel:/x",
            "/a:rel",
            "/a:/b:ro,rw",
            "/a:/b:c:d",
            "/a:/b:bogus",
            "",
            "a",
        ] {
            assert!(parse_volume(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn mount_flag() {
        let m =
            parse_mount("type=bind,source=/a,target=/b,readonly,bind-propagation=rslave").unwrap();
        assert_eq!(
            (
                m.r#type(),
                m.source.as_str(),
                m.target.as_str(),
                m.read_only
            ),
            (MountType::Bind, "/a", "/b", true)
        );
        assert_eq!(m.options, ["rslave"]);
        let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!(
            (m.r#type(), m.tmpfs_size, m.tmpfs_mode),
            (MountType::Tmpfs, 64 << 20, 0o1770)
        );
        let m = parse_mount("type=bind,src=/a,target=/b,ro=false").unwrap();
        assert!(!m.read_only);
        assert_eq!(parse_mount("target=/x").unwrap_err(), VOLUMES_UNSUPPORTED);
        for bad in [
            "type=bind,target=/b",
            "type=bind,source=rel,target=/b",
            "type=tmpfs,source=/a,target=/b",
            "type=bind,source=/a",
            "type=bind,source=/a,target=/b,tmpfs-size=1m",
            "type=nfs,target=/b",
            "type=bind,source=/a,target=/b,bogus=1",
            "type=tmpfs,target=/b,tmpfs-mode=999",
            "type=bind,source=/a,target=/b,readonly=maybe",
            "type",
            "",
        ] {
            assert!(parse_mount(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn tmpfs_flag() {
        let m = parse_tmpfs("/run:rw,noexec,size=1g,mode=700").unwrap();
        assert_eq!(
            (m.r#type(), m.target.as_str(), m.tmpfs_size, m.tmpfs_mode),
            (MountType::Tmpfs, "/run", 1 << 30, 0o700)
        );
        assert_eq!(m.options, ["noexec"]);
        assert!(parse_tmpfs("/scratch").unwrap().options.is_empty());
        assert!(parse_tmpfs("/x:ro").unwrap().read_only);
        assert!(parse_tmpfs("rel").is_err());
        assert!(parse_tmpfs("/x:size=big").is_err());
    }

    proptest! {
        #[test]
        fn never_panic(text in "\\PC{0,40}") {
            let _ = parse_volume(&text);
            let _ = parse_mount(&text);
            let _ = parse_tmpfs(&text);
        }

        #[test]
        fn absolute_binds_round_trip(src in "/[a-z0-9/_.-]{0,12}", dst in "/[a-z0-9/_.-]{0,12}", ro in any::<bool>()) {
            let spec = format!("{src}:{dst}{}", if ro { ":ro" } else { "" });
            let m = parse_volume(&spec).unwrap();
            prop_assert_eq!((m.source, m.target, m.read_only), (src, dst, ro));
        }
    }
}
