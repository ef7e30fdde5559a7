//! Image references normalised as Docker does, for what the CLI prints and for choosing the
//! credentials of an image's registry. The daemon parses and checks references for real.

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// `docker.io`, `127.0.0.1:5000`, …
    pub domain: String,
    /// `library/busybox`, `app`, …
    pub path: String,
    /// The tag; `latest` when neither a tag nor a digest is given.
    pub tag: Option<String>,
    /// `sha256:…`, when pinned.
    pub digest: Option<String>,
}

impl ImageName {
    /// Splits `reference` as Docker does: a first component with a `.` or `:`, or
    /// `localhost`, is a registry; otherwise the image is on Docker Hub (`library/` for
    /// single names).
    pub fn parse(reference: &str) -> ImageName {
        let (name, digest) = match reference.split_once('@') {
            Some((name, digest)) => (name, Some(digest.to_string())),
            None => (reference, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(colon) => (
                &name[..last_slash + colon],
                Some(name[last_slash + colon + 1..].to_string()),
            ),
            None => (name, None),
        };
        let tag = tag.or_else(|| digest.is_none().then(|| "latest".to_string()));
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let domain = if domain == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            domain
        };
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        ImageName {
            domain,
            path,
            tag,
            digest,
        }
    }

    /// `docker.io/library/busybox`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// `busybox`, `user/app`, `127.0.0.1:5000/app`.
    pub fn familiar_repository(&self) -> String {
        if self.domain == DOCKER_HUB {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.repository()
        }
    }

    /// `busybox:latest`, `127.0.0.1:5000/app@sha256:…`.
    pub fn familiar(&self) -> String {
        self.with_suffix(self.familiar_repository())
    }

    /// `docker.io/library/busybox:latest`.
    pub fn full(&self) -> String {
        self.with_suffix(self.repository())
    }

    /// The tag, or the digest when pinned (what Docker prints before `: Pulling from`).
    pub fn tag_or_digest(&self) -> &str {
        self.tag
            .as_deref()
            .or(self.digest.as_deref())
            .unwrap_or("latest")
    }

    fn with_suffix(&self, mut name: String) -> String {
        if let Some(tag) = &self.tag {
            name.push(':');
            name.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            name.push('@');
            name.push_str(digest);
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_as_docker_does() {
        let n = ImageName::parse("busybox");
        assert_eq!(n.full(), "docker.io/library/busybox:latest");
        assert_eq!(n.familiar(), "busybox:latest");
        assert_eq!(n.path, "library/busybox");
        let n = ImageName::parse("127.0.0.1:5000/team/app:v1");
        assert_eq!(n.domain, "127.0.0.1:5000");
        assert_eq!(n.path, "team/app");
        assert_eq!(n.familiar(), "127.0.0.1:5000/team/app:v1");
        let n = ImageName::parse("localhost/app");
        assert_eq!(n.full(), "localhost/app:latest");
        let n = ImageName::parse("user/app:2");
        assert_eq!(n.full(), "docker.io/user/app:2");
        assert_eq!(n.familiar(), "user/app:2");
        let digest = format!("sha256:{}", "a".repeat(64));
        let n = ImageName::parse(&format!("host:5000/app@{digest}"));
        assert_eq!(n.tag, None);
        assert_eq!(n.tag_or_digest(), digest);
        assert_eq!(n.full(), format!("host:5000/app@{digest}"));
    }
}
