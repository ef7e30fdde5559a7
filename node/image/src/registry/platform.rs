//! Platforms (`os/arch[/variant]`, Go's names as in OCI indexes) and choosing an index entry,
//! the way containerd's default matcher does: names are normalised (`aarch64` is `arm64`,
//! `arm64/v8` is `arm64`, bare `arm` is `arm/v7`) and an ARM platform also runs older
//! variants, preferring the newest (`arm/v7`, then `v6`, then `v5`).

use std::fmt;

use super::manifest::{Descriptor, DOCKER_MANIFEST, OCI_MANIFEST};
use super::Platform;
use crate::ImageError;

impl Platform {
    /// Parses `os/arch[/variant]` (`linux/amd64`, `linux/arm/v7`), normalised.
    pub fn parse(input: &str) -> Result<Self, ImageError> {
        let invalid =
            |reason: &str| ImageError::invalid(format!("invalid platform {input:?}: {reason}"));
        let parts: Vec<&str> = input.split('/').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(invalid("want os/arch[/variant], for example linux/amd64"));
        }
        if parts.iter().any(|p| p.is_empty()) {
            return Err(invalid("empty component"));
        }
        if let Some(bad) = parts.iter().find(|p| {
            !p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }) {
            return Err(invalid(&format!(
                "{bad:?} must be letters, digits, '-' or '_'"
            )));
        }
        Ok(Platform {
            os: parts[0].to_string(),
            architecture: parts[1].to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
        }
        .normalized())
    }

    /// The platform berthd runs on.
    pub fn host() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "powerpc64" => "ppc64",
            "loongarch64" => "loong64",
            other => other,
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            architecture: architecture.to_string(),
            variant: None,
        }
        .normalized()
    }

    /// Go's canonical names: lowercase, `x86_64` → `amd64`, `aarch64` → `arm64`, `arm64/v8`
    /// → `arm64`, `arm` → `arm/v7`, `armhf` → `arm/v7`, `armel` → `arm/v6`.
    pub fn normalized(&self) -> Self {
        let os = self.os.to_lowercase();
        let arch = self.architecture.to_lowercase();
        let variant = self.variant.as_ref().map(|v| v.to_lowercase());
        let (architecture, variant) = match (arch.as_str(), variant.as_deref()) {
            ("i386", _) => ("386", None),
            ("x86_64" | "x86-64" | "amd64", Some("v1") | None) => ("amd64", None),
            ("x86_64" | "x86-64" | "amd64", Some(v)) => ("amd64", Some(v.to_string())),
            ("aarch64" | "arm64", Some("8" | "v8") | None) => ("arm64", None),
            ("aarch64" | "arm64", Some(v)) => ("arm64", Some(v.to_string())),
            ("armhf", _) => ("arm", Some("v7".to_string())),
            ("armel", _) => ("arm", Some("v6".to_string())),
            ("arm", None) => ("arm", Some("v7".to_string())),
            ("arm", Some(v @ ("5" | "6" | "7" | "8"))) => ("arm", Some(format!("v{v}"))),
            (other, v) => (other, v.map(str::to_string)),
        };
        Platform {
            os,
            architecture: architecture.to_string(),
            variant,
        }
    }

    /// The platforms an image for which runs here, best first: this one, then for ARM the
    /// older variants.
    fn compatible(&self) -> Vec<Platform> {
        let wanted = self.normalized();
        let mut out = vec![wanted.clone()];
        if wanted.architecture == "arm" {
            let older: &[&str] = match wanted.variant.as_deref() {
                Some("v8") => &["v7", "v6", "v5"],
                Some("v7") => &["v6", "v5"],
                Some("v6") => &["v5"],
                _ => &[],
            };
            out.extend(older.iter().map(|v| Platform {
                variant: Some((*v).to_string()),
                ..wanted.clone()
            }));
        }
        out
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// The index entry (an image manifest) for `wanted`; `ImageError::NotFound` when none fits.
pub(crate) fn select<'a>(
    manifests: &'a [Descriptor],
    wanted: &Platform,
) -> Result<&'a Descriptor, ImageError> {
    let images: Vec<(&Descriptor, Platform)> = manifests
        .iter()
        .filter(|d| d.media_type == OCI_MANIFEST || d.media_type == DOCKER_MANIFEST)
        .filter_map(|d| d.platform.as_ref().map(|p| (d, p.normalized())))
        .collect();
    for candidate in wanted.compatible() {
        if let Some((descriptor, _)) = images.iter().find(|(_, p)| *p == candidate) {
            return Ok(descriptor);
        }
    }
    Err(ImageError::NotFound(format!(
        "no matching manifest for {} in the manifest list entries",
        wanted.normalized()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(platform: &str, c: char) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.to_string(),
            digest: format!("sha256:{}", c.to_string().repeat(64)),
            size: 1,
            platform: Some(Platform::parse(platform).unwrap()),
        }
    }

    #[test]
    fn platforms_parse_and_normalise() {
        let p = Platform::parse("linux/amd64").unwrap();
        assert_eq!(p.to_string(), "linux/amd64");
        assert_eq!(
            Platform::parse("Linux/x86_64").unwrap().to_string(),
            "linux/amd64"
        );
        assert_eq!(
            Platform::parse("linux/aarch64").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64"
        );
        assert_eq!(
            Platform::parse("linux/arm").unwrap().to_string(),
            "linux/arm/v7"
        );
        assert_eq!(
            Platform::parse("linux/arm/6").unwrap().to_string(),
            "linux/arm/v6"
        );
        for bad in [
            "",
            "linux",
            "linux/",
            "/amd64",
            "linux/amd64/v1/x",
            "linux/am d64",
        ] {
            let err = Platform::parse(bad).unwrap_err();
            assert!(matches!(err, ImageError::InvalidArgument(_)), "{bad}");
            assert!(err.to_string().contains("invalid platform"), "{err}");
        }
    }

    #[test]
    fn the_host_platform_uses_go_names() {
        let host = Platform::host();
        assert_eq!(host.os, "linux");
        assert!(
            ["amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64"]
                .contains(&host.architecture.as_str()),
            "{host}"
        );
    }

    #[test]
    fn selection_prefers_the_exact_platform_then_older_arm_variants() {
        let index = [
            entry("linux/amd64", 'a'),
            entry("linux/arm64/v8", 'b'),
            entry("linux/arm/v6", 'c'),
            entry("linux/arm/v7", 'd'),
            entry("linux/arm/v5", 'e'),
        ];
        let pick = |p: &str| {
            select(&index, &Platform::parse(p).unwrap())
                .unwrap()
                .digest
                .clone()
        };
        assert_eq!(pick("linux/amd64"), index[0].digest);
        assert_eq!(pick("linux/arm64"), index[1].digest);
        assert_eq!(pick("linux/arm"), index[3].digest);
        assert_eq!(pick("linux/arm/v6"), index[2].digest);
        assert_eq!(pick("linux/arm/v8"), index[3].digest);
        assert_eq!(
            select(&index[..3], &Platform::parse("linux/arm/v7").unwrap())
                .unwrap()
                .digest,
            index[2].digest
        );
        let err = select(&index, &Platform::parse("linux/s390x").unwrap()).unwrap_err();
        assert!(matches!(err, ImageError::NotFound(_)));
        assert_eq!(
            err.to_string(),
            "no such image: no matching manifest for linux/s390x in the manifest list entries"
        );
    }

    #[test]
    fn entries_without_platform_or_of_other_kinds_are_skipped() {
        let mut attestation = entry("linux/amd64", 'f');
        attestation.media_type = "application/vnd.in-toto+json".to_string();
        let mut bare = entry("linux/amd64", 'g');
        bare.platform = None;
        let index = [attestation, bare, entry("linux/amd64", 'h')];
        let chosen = select(&index, &Platform::parse("linux/amd64").unwrap()).unwrap();
        assert_eq!(chosen.digest, index[2].digest);
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(input in "[a-zA-Z0-9/_ -]{0,30}") {
            if let Ok(p) = Platform::parse(&input) {
                prop_assert_eq!(Platform::parse(&p.to_string()).unwrap(), p);
            }
        }
    }
}
