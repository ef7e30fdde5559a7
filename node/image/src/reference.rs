//! Image references, parsed and normalised the way Docker's `distribution/reference` does.
//!
//! `busybox` becomes `docker.io/library/busybox:latest`; the first path component is a registry
//! host only when it contains `.` or `:`, is `localhost`, or has an uppercase letter.

use std::fmt;

use crate::ImageError;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
/// Docker's limit on the length of `domain/path`.
const NAME_TOTAL_LENGTH_MAX: usize = 255;
const TAG_LENGTH_MAX: usize = 128;

/// A normalised image reference such as `docker.io/library/busybox:latest`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parses and normalises a reference as Docker does (`busybox` →
    /// `docker.io/library/busybox:latest`).
    pub fn parse(input: &str) -> Result<Self, ImageError> {
        let invalid = |reason: &str| {
            ImageError::invalid(format!("invalid reference format {input:?}: {reason}"))
        };
        if input.is_empty() {
            return Err(invalid("repository name must have at least one component"));
        }
        if is_full_hex_id(input) {
            return Err(invalid(
                "cannot specify 64-byte hexadecimal strings as a repository name",
            ));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(parse_digest(digest).map_err(|r| invalid(&r))?)),
            None => (input, None),
        };
        let (name, tag) = split_tag(rest);
        if let Some(tag) = tag {
            check_tag(tag).map_err(|r| invalid(&r))?;
        }
        let (domain, path) = split_domain(name);
        if path.to_lowercase() != path {
            return Err(invalid(&format!(
                "repository name ({path}) must be lowercase"
            )));
        }
        check_domain(domain).map_err(|r| invalid(&r))?;
        check_path(&path).map_err(|r| invalid(&r))?;
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(invalid(&format!(
                "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
            )));
        }
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_string()),
            (tag, _) => tag.map(str::to_string),
        };
        Ok(Reference {
            domain: domain.to_string(),
            path,
            tag,
            digest,
        })
    }

    /// The repository: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The registry host (with port): `docker.io`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry: `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any (`latest` is filled in when neither tag nor digest is given).
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, `sha256:<hex>`, if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The repository the way Docker prints it: `busybox`, `user/app`, `host:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(short) if !short.contains('/') => short.to_string(),
            _ => self.path.clone(),
        }
    }

    /// The short form Docker displays: `busybox:latest`.
    pub fn familiar(&self) -> String {
        with_suffixes(self.familiar_name(), self.tag(), self.digest())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&with_suffixes(self.name(), self.tag(), self.digest()))
    }
}

impl std::str::FromStr for Reference {
    type Err = ImageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

fn with_suffixes(mut name: String, tag: Option<&str>, digest: Option<&str>) -> String {
    if let Some(tag) = tag {
        name.push(':');
        name.push_str(tag);
    }
    if let Some(digest) = digest {
        name.push('@');
        name.push_str(digest);
    }
    name
}

/// Whether `s` is exactly 64 lowercase hex digits (an image ID without its algorithm).
pub(crate) fn is_full_hex_id(s: &str) -> bool {
    s.len() == 64 && is_lower_hex(s)
}

pub(crate) fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a `sha256:<64 hex>` digest (the only algorithm the store speaks).
pub(crate) fn parse_digest(digest: &str) -> Result<String, String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!("digest {digest:?} has no algorithm"));
    };
    if algorithm != "sha256" {
        return Err(format!("unsupported digest algorithm {algorithm:?}"));
    }
    if !is_full_hex_id(hex) {
        return Err(format!(
            "digest {digest:?} must be sha256: followed by 64 lowercase hex digits"
        ));
    }
    Ok(digest.to_string())
}

/// Splits `name[:tag]`; a `:` before the last `/` belongs to the registry port.
fn split_tag(s: &str) -> (&str, Option<&str>) {
    match s.rfind(':') {
        Some(i) if !s[i..].contains('/') => (&s[..i], Some(&s[i + 1..])),
        _ => (s, None),
    }
}

/// Docker's `splitDockerDomain`: the registry host, and the path with `library/` added for
/// official images on the default registry.
fn split_domain(name: &str) -> (&str, String) {
    let (domain, rest) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (first, rest)
        }
        _ => (DEFAULT_DOMAIN, name),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN {
        DEFAULT_DOMAIN
    } else {
        domain
    };
    if domain == DEFAULT_DOMAIN && !rest.contains('/') {
        (domain, format!("{OFFICIAL_REPO_PREFIX}{rest}"))
    } else {
        (domain, rest.to_string())
    }
}

/// `[\w][\w.-]{0,127}`.
fn check_tag(tag: &str) -> Result<(), String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    let ok = match bytes.split_first() {
        Some((first, rest)) => {
            word(*first)
                && bytes.len() <= TAG_LENGTH_MAX
                && rest.iter().all(|&b| word(b) || b == b'.' || b == b'-')
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "tag {tag:?} must be 1 to {TAG_LENGTH_MAX} of [A-Za-z0-9_.-], not starting with . or -"
        ))
    }
}

/// `host[:port]`: dot-separated labels of `[A-Za-z0-9-]` (no leading or trailing `-`), or a
/// bracketed IPv6 address.
fn check_domain(domain: &str) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "registry host {domain:?} is not a valid host[:port]"
        ))
    };
    let (host, port) = if let Some(v6) = domain.strip_prefix('[') {
        let Some((addr, after)) = v6.split_once(']') else {
            return bad();
        };
        if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return bad();
        }
        match after {
            "" => (None, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return bad(),
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(domain), None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return bad();
        }
    }
    if let Some(host) = host {
        let label_ok = |label: &str| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if !host.split('.').all(label_ok) {
            return bad();
        }
    }
    Ok(())
}

/// Path components: `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn check_path(path: &str) -> Result<(), String> {
    for component in path.split('/') {
        if !is_path_component(component) {
            return Err(format!(
                "repository path component {component:?} must be lowercase letters and digits \
                 separated by '.', '_', '__' or '-'"
            ));
        }
    }
    Ok(())
}

fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep = &component[sep_start..i];
        let sep_ok = matches!(sep, "." | "_" | "__") || sep.bytes().all(|b| b == b'-');
        if !sep_ok {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    fn error(s: &str) -> String {
        match Reference::parse(s) {
            Err(ImageError::InvalidArgument(m)) => m,
            other => panic!("{s}: expected InvalidArgument, got {other:?}"),
        }
    }

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn docker_normalisation() {
        assert_eq!(full("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(full("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(full("user/app"), "docker.io/user/app:latest");
        assert_eq!(
            full("index.docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            full("docker.io/library/busybox:latest"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(full("localhost/app"), "localhost/app:latest");
        assert_eq!(full("localhost:5000/a/b:v1"), "localhost:5000/a/b:v1");
        assert_eq!(full("quay.io/org/app:x_y.z-1"), "quay.io/org/app:x_y.z-1");
        assert_eq!(full("[::1]:5000/app"), "[::1]:5000/app:latest");
        assert_eq!(
            full("a__b/c-d.e/f---g"),
            "docker.io/a__b/c-d.e/f---g:latest"
        );
        assert_eq!(
            full(&format!("busybox@{DIGEST}")),
            format!("docker.io/library/busybox@{DIGEST}")
        );
        assert_eq!(
            full(&format!("busybox:1@{DIGEST}")),
            format!("docker.io/library/busybox:1@{DIGEST}")
        );
        // An uppercase first component is taken for a registry host, as Docker does.
        assert_eq!(full("Host/app"), "Host/app:latest");
    }

    #[test]
    fn accessors_and_familiar_form() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.name(), "docker.io/library/busybox");
        assert_eq!(
            (r.domain(), r.path(), r.tag(), r.digest()),
            ("docker.io", "library/busybox", Some("latest"), None)
        );
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(
            Reference::parse("user/app:v2").unwrap().familiar(),
            "user/app:v2"
        );
        assert_eq!(
            Reference::parse("library/a/b").unwrap().familiar(),
            "library/a/b:latest"
        );
        assert_eq!(
            Reference::parse("reg.io:5000/x").unwrap().familiar(),
            "reg.io:5000/x:latest"
        );
        let pinned = Reference::parse(&format!("busybox@{DIGEST}")).unwrap();
        assert_eq!(pinned.tag(), None);
        assert_eq!(pinned.familiar(), format!("busybox@{DIGEST}"));
    }

    #[test]
    fn rejections_say_why() {
        assert!(error("").contains("at least one component"));
        assert!(error("Busybox").contains("must be lowercase"));
        assert!(error("user/App").contains("must be lowercase"));
        assert!(error(&"a".repeat(64).replace('a', "0")).contains("64-byte hexadecimal"));
        assert!(error("busybox:").contains("tag"));
        assert!(error("busybox:-x").contains("tag"));
        assert!(error(&format!("busybox:{}", "t".repeat(129))).contains("tag"));
        assert!(error("busybox@sha256:abc").contains("64 lowercase hex"));
        assert!(error("busybox@md5:abc").contains("unsupported digest algorithm"));
        assert!(error("busy..box").contains("path component"));
        assert!(error("a//b").contains("path component"));
        assert!(error("-a").contains("path component"));
        assert!(error("a b").contains("path component"));
        assert!(error("host:port/app").contains("registry host"));
        assert!(error("-bad.io/app").contains("registry host"));
        assert!(error(&format!("x/{}", "a".repeat(260))).contains("255"));
        assert!(error("busybox@").contains("digest"));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn component() -> impl Strategy<Value = String> {
            // No `.` so that a first component is never taken for a registry host.
            "[a-z0-9]{1,5}([_-][a-z0-9]{1,5}){0,2}"
        }

        proptest! {
            /// Parsing never panics, and whatever parses prints back to a fixed point.
            #[test]
            fn parse_is_total_and_idempotent(s in "\\PC{0,80}") {
                if let Ok(r) = Reference::parse(&s) {
                    let again = Reference::parse(&r.to_string()).unwrap();
                    prop_assert_eq!(&again, &r);
                    prop_assert_eq!(Reference::parse(&r.familiar()).unwrap(), r);
                }
            }

            /// Valid names built from the grammar always parse, to the expected full form.
            #[test]
            fn grammar_names_parse(
                parts in prop::collection::vec(component(), 1..4),
                tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            ) {
                let name = parts.join("/");
                let input = match &tag { Some(t) => format!("{name}:{t}"), None => name.clone() };
                let r = Reference::parse(&input).unwrap();
                let path = if parts.len() == 1 { format!("library/{name}") } else { name };
                prop_assert_eq!(r.name(), format!("docker.io/{path}"));
                prop_assert_eq!(r.tag(), Some(tag.as_deref().unwrap_or("latest")));
            }
        }
    }
}
