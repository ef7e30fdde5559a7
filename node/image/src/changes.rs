//! Dockerfile-style `--change` instructions applied to an image's container defaults.
//!
//! Supported: `CMD`, `ENTRYPOINT` (JSON exec form or shell form), `ENV`, `LABEL`, `EXPOSE`,
//! `STOPSIGNAL`, `USER`, `VOLUME`, `WORKDIR`. Values are taken literally (no `$VAR`
//! substitution). Paths must be absolute and free of `..` (SECURITY.md item 10).

use std::str::FromStr;

use crate::{paths, ImageConfig, ImageError};

/// The highest signal number Linux has (`SIGRTMAX`).
const MAX_SIGNAL: u32 = 64;
/// uid/gid `4294967295` is `(uid_t)-1`, "no change" to the kernel: never a real id.
const MAX_ID: u64 = u32::MAX as u64 - 1;

/// Applies every change in order to `config`.
pub(crate) fn apply(config: &mut ImageConfig, changes: &[String]) -> Result<(), ImageError> {
    for change in changes {
        apply_one(config, change).map_err(|reason| {
            ImageError::invalid(format!("invalid change {change:?}: {reason}"))
        })?;
    }
    Ok(())
}

fn apply_one(config: &mut ImageConfig, change: &str) -> Result<(), String> {
    let change = change.trim();
    let (instruction, rest) = change
        .split_once(char::is_whitespace)
        .map_or((change, ""), |(i, r)| (i, r.trim()));
    let instruction = instruction.to_ascii_uppercase();
    if rest.is_empty() {
        return Err(format!("{instruction} requires at least one argument"));
    }
    match instruction.as_str() {
        "CMD" => config.cmd = command(rest)?,
        "ENTRYPOINT" => config.entrypoint = command(rest)?,
        "ENV" => {
            for (key, value) in name_values(rest)? {
                config
                    .env
                    .retain(|e| e.split_once('=').map(|(k, _)| k) != Some(&key));
                config.env.push(format!("{key}={value}"));
            }
        }
        "LABEL" => config.labels.extend(name_values(rest)?),
        "EXPOSE" => {
            for word in split_words(rest)? {
                for port in exposed_ports(&word)? {
                    if !config.exposed_ports.contains(&port) {
                        config.exposed_ports.push(port);
                    }
                }
            }
        }
        "STOPSIGNAL" => config.stop_signal = stop_signal(&single_word(rest)?)?,
        "USER" => config.user = user(&single_word(rest)?)?,
        "WORKDIR" => config.working_dir = paths::absolute_clean(rest)?,
        "VOLUME" => {
            let list = match json_list(rest) {
                Some(list) => list,
                None => split_words(rest)?,
            };
            for volume in list {
                let volume = paths::absolute_clean(&volume)?;
                if !config.volumes.contains(&volume) {
                    config.volumes.push(volume);
                }
            }
        }
        other => return Err(format!("{other} is not a valid change command")),
    }
    Ok(())
}

/// The exec form `["a", "b"]`, or the shell form run through `/bin/sh -c`.
fn command(rest: &str) -> Result<Vec<String>, String> {
    match json_list(rest) {
        Some(list) if list.is_empty() => Err("the JSON form needs at least one element".into()),
        Some(list) => Ok(list),
        None => Ok(vec!["/bin/sh".into(), "-c".into(), rest.into()]),
    }
}

/// A JSON array of strings, as Docker detects the exec form (anything else is shell form).
fn json_list(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') {
        return None;
    }
    serde_json::from_str(rest).ok()
}

/// `k=v k2="v 2"`, or the legacy `key the whole value`.
fn name_values(rest: &str) -> Result<Vec<(String, String)>, String> {
    let words = split_words(rest)?;
    let first_has_eq = words.first().is_some_and(|w| w.contains('='));
    if !first_has_eq {
        let (key, value) = rest
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("{rest:?} needs a value (KEY=VALUE or KEY VALUE)"))?;
        let key = split_words(key)?.concat();
        check_key(&key)?;
        return Ok(vec![(key, value.trim().to_string())]);
    }
    words
        .into_iter()
        .map(|word| {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| format!("{word:?} is not KEY=VALUE"))?;
            check_key(key)?;
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.contains('\0') {
        Err(format!("{key:?} is not a valid name"))
    } else {
        Ok(())
    }
}

/// Splits on whitespace, honouring double quotes (with `\` escapes), single quotes and `\`.
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\\' => {
                let escaped = chars.next().ok_or("trailing backslash")?;
                word.get_or_insert_with(String::new).push(escaped);
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next().ok_or("unterminated single quote")? {
                        '\'' => break,
                        c => w.push(c),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next().ok_or("unterminated double quote")? {
                        '"' => break,
                        '\\' => w.push(chars.next().ok_or("unterminated double quote")?),
                        c => w.push(c),
                    }
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

fn single_word(rest: &str) -> Result<String, String> {
    let mut words = split_words(rest)?;
    match (words.pop(), words.is_empty()) {
        (Some(word), true) => Ok(word),
        _ => Err(format!("{rest:?} must be a single value")),
    }
}

/// `80`, `80/udp`, `8000-8002/tcp` → `80/tcp`, ... (ranges expanded).
fn exposed_ports(word: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = word.split_once('/').unwrap_or((word, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "invalid protocol {proto:?} in {word:?} (tcp, udp or sctp)"
        ));
    }
    let port = |p: &str| match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("invalid port {p:?} in {word:?} (1-65535)")),
    };
    let (low, high) = match ports.split_once('-') {
        Some((low, high)) => (port(low)?, port(high)?),
        None => (port(ports)?, port(ports)?),
    };
    if low > high {
        return Err(format!("invalid port range {ports:?}"));
    }
    Ok((low..=high).map(|p| format!("{p}/{proto}")).collect())
}

/// A signal name (`SIGTERM`, `TERM`, `SIGRTMIN+3`) or number; stored as given.
fn stop_signal(signal: &str) -> Result<String, String> {
    let bad = || Err(format!("invalid signal {signal:?}"));
    if let Ok(n) = signal.parse::<u32>() {
        return if (1..=MAX_SIGNAL).contains(&n) {
            Ok(signal.into())
        } else {
            bad()
        };
    }
    let upper = signal.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let realtime = ["RTMIN", "RTMAX"]
        .iter()
        .any(|base| match name.strip_prefix(base) {
            Some("") => true,
            Some(offset) => {
                offset.len() > 1
                    && (offset.starts_with('+') || offset.starts_with('-'))
                    && offset[1..].parse::<u32>().is_ok_and(|n| n <= 30)
            }
            None => false,
        });
    if realtime || nix::sys::signal::Signal::from_str(&format!("SIG{name}")).is_ok() {
        Ok(signal.into())
    } else {
        bad()
    }
}

/// `user`, `uid`, `user:group`, `uid:gid`; numeric ids are range-checked so that a bad value
/// can never wrap around to root.
fn user(value: &str) -> Result<String, String> {
    let mut parts = value.splitn(3, ':');
    let (user, group, extra) = (parts.next(), parts.next(), parts.next());
    if extra.is_some() {
        return Err(format!("user {value:?} must be user[:group]"));
    }
    for part in [user, group].into_iter().flatten() {
        check_user_part(part).map_err(|reason| format!("user {value:?}: {reason}"))?;
    }
    Ok(value.to_string())
}

fn check_user_part(part: &str) -> Result<(), String> {
    if part.is_empty() {
        return Err("empty user or group".into());
    }
    if part.bytes().all(|b| b.is_ascii_digit()) {
        return match part.parse::<u64>() {
            Ok(id) if id <= MAX_ID => Ok(()),
            _ => Err(format!("id {part} is out of range (0-{MAX_ID})")),
        };
    }
    let name_ok = part.len() <= 256
        && !part.starts_with('-')
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'$'));
    if name_ok {
        Ok(())
    } else {
        Err(format!("{part:?} is not a valid name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(changes: &[&str]) -> ImageConfig {
        let mut config = ImageConfig::default();
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply(&mut config, &changes).unwrap();
        config
    }

    fn rejected(change: &str) -> String {
        let mut config = ImageConfig::default();
        match apply(&mut config, &[change.to_string()]) {
            Err(ImageError::InvalidArgument(m)) => m,
            other => panic!("{change}: expected InvalidArgument, got {other:?}"),
        }
    }

    #[test]
    fn commands_in_both_forms() {
        let c = config(&[r#"CMD ["echo", "hi there"]"#, "entrypoint /bin/init --x"]);
        assert_eq!(c.cmd, ["echo", "hi there"]);
        assert_eq!(c.entrypoint, ["/bin/sh", "-c", "/bin/init --x"]);
        // Not valid JSON: Docker falls back to the shell form.
        assert_eq!(config(&["CMD [oops"]).cmd, ["/bin/sh", "-c", "[oops"]);
        assert!(rejected("CMD []").contains("at least one element"));
        assert!(rejected("CMD").contains("requires at least one argument"));
    }

    #[test]
    fn env_and_labels() {
        let c = config(&[
            "ENV A=1 B=\"two words\" C='x y'",
            "ENV LEGACY some value here",
            "ENV A=3",
            "LABEL maintainer=me \"com.example.v\"=1.0",
            "LABEL old style",
        ]);
        assert_eq!(
            c.env,
            ["B=two words", "C=x y", "LEGACY=some value here", "A=3"]
        );
        assert_eq!(c.labels.get("maintainer").unwrap(), "me");
        assert_eq!(c.labels.get("com.example.v").unwrap(), "1.0");
        assert_eq!(c.labels.get("old").unwrap(), "style");
        assert!(rejected("ENV =x").contains("not a valid name"));
        assert!(rejected("ENV A=1 B").contains("not KEY=VALUE"));
        assert!(rejected("ENV A=\"open").contains("unterminated"));
        assert!(rejected("ENV ONLYKEY").contains("needs a value"));
    }

    #[test]
    fn expose_stopsignal_user() {
        let c = config(&[
            "EXPOSE 80 53/udp 8000-8002/TCP 80/tcp",
            "STOPSIGNAL SIGINT",
            "USER 1000:1000",
        ]);
        assert_eq!(
            c.exposed_ports,
            ["80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert_eq!(c.stop_signal, "SIGINT");
        assert_eq!(c.user, "1000:1000");
        for ok in ["TERM", "9", "SIGRTMIN+3", "rtmax-1", "sigusr1"] {
            assert_eq!(config(&[&format!("STOPSIGNAL {ok}")]).stop_signal, ok);
        }
        assert_eq!(config(&["USER nobody:nogroup"]).user, "nobody:nogroup");
        assert!(rejected("EXPOSE 0").contains("invalid port"));
        assert!(rejected("EXPOSE 70000").contains("invalid port"));
        assert!(rejected("EXPOSE 80/icmp").contains("invalid protocol"));
        assert!(rejected("EXPOSE 90-80").contains("range"));
        assert!(rejected("STOPSIGNAL SIGNOPE").contains("invalid signal"));
        assert!(rejected("STOPSIGNAL 65").contains("invalid signal"));
        assert!(rejected("STOPSIGNAL 0").contains("invalid signal"));
        // (uid_t)-1 and anything wider must never reach the kernel (it would mean "no change"
        // or wrap around to root).
        assert!(rejected("USER 4294967295").contains("out of range"));
        assert!(rejected("USER 4294967296").contains("out of range"));
        assert!(rejected("USER 0:99999999999999999999").contains("out of range"));
        assert!(rejected("USER a:b:c").contains("user[:group]"));
        assert!(rejected("USER :1").contains("empty"));
        assert!(rejected("USER a b").contains("single value"));
        assert!(rejected("USER bad/name").contains("not a valid name"));
    }

    #[test]
    fn paths_must_be_absolute_and_clean() {
        let c = config(&[
            "WORKDIR /srv//app/./",
            "VOLUME [\"/data\", \"/logs/\"]",
            "VOLUME /cache /data",
        ]);
        assert_eq!(c.working_dir, "/srv/app");
        assert_eq!(c.volumes, ["/data", "/logs", "/cache"]);
        assert!(rejected("WORKDIR relative/dir").contains("absolute"));
        assert!(rejected("WORKDIR /a/../etc").contains(".."));
        assert!(rejected("VOLUME data").contains("absolute"));
        assert!(rejected("VOLUME [\"/ok\", \"/x/..\"]").contains(".."));
    }

    #[test]
    fn unsupported_instructions() {
        for bad in ["RUN echo", "FROM x", "ONBUILD RUN x", "COPY a b", "bogus x"] {
            assert!(
                rejected(bad).contains("not a valid change command"),
                "{bad}"
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// No change string panics the parser; anything accepted keeps paths absolute and
            /// users in range.
            #[test]
            fn never_panics(instruction in prop::sample::select(vec![
                "CMD", "ENTRYPOINT", "ENV", "LABEL", "EXPOSE", "STOPSIGNAL", "USER", "WORKDIR",
                "VOLUME", "RUN"]), rest in "\\PC{0,40}") {
                let mut config = ImageConfig::default();
                if apply(&mut config, &[format!("{instruction} {rest}")]).is_ok() {
                    prop_assert!(config.working_dir.is_empty() || config.working_dir.starts_with('/'));
                    prop_assert!(config.volumes.iter().all(|v| v.starts_with('/') && !v.split('/').any(|c| c == "..")));
                }
            }
        }
    }
}
