//! Manifests as registries serve them: Docker v2 schema 2 manifests and manifest lists, OCI
//! image manifests and indexes. Anything else (schema 1, artifacts, unknown media types) is
//! refused before a byte of content is fetched, and so is a document that claims to be both
//! an index and an image.

use serde::Deserialize;

use super::Platform;
use crate::reference::parse_digest;
use crate::ImageError;

/// The largest manifest accepted (containerd and Docker use 4 MiB too).
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

/// Docker v2 schema 2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// What a pull asks registries for, preferred first.
pub const ACCEPTED: &[&str] = &[
    OCI_INDEX,
    DOCKER_MANIFEST_LIST,
    OCI_MANIFEST,
    DOCKER_MANIFEST,
];

const SCHEMA1: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];
/// Content types that say nothing about the document (some registries serve OCI documents
/// without `mediaType` as plain JSON).
const GENERIC_CONTENT_TYPES: &[&str] =
    &["application/json", "application/octet-stream", "text/plain"];

/// A content descriptor (config, layer, or index entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// What the content is.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// The platform of an index entry.
    pub platform: Option<Platform>,
}

/// An image manifest (Docker v2 schema 2 or OCI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    /// `DOCKER_MANIFEST` or `OCI_MANIFEST`.
    pub media_type: &'static str,
    /// The image config.
    pub config: Descriptor,
    /// The layers, bottom first.
    pub layers: Vec<Descriptor>,
}

/// A manifest list or OCI index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// `DOCKER_MANIFEST_LIST` or `OCI_INDEX`.
    pub media_type: &'static str,
    /// The entries.
    pub manifests: Vec<Descriptor>,
}

/// A parsed manifest document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedManifest {
    /// One image.
    Image(ImageManifest),
    /// Several, usually one per platform.
    Index(Index),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    schema_version: Option<u64>,
    media_type: Option<String>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    manifests: Option<Vec<RawDescriptor>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDescriptor {
    media_type: String,
    digest: String,
    size: u64,
    platform: Option<RawPlatform>,
}

#[derive(Deserialize)]
struct RawPlatform {
    architecture: String,
    os: String,
    variant: Option<String>,
}

/// Parses a manifest, its kind taken from `content_type` (the response header) and the
/// document's `mediaType`, which must agree when both are given.
pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<ParsedManifest, ImageError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(ImageError::invalid(format!(
            "manifest is {} bytes, more than the limit of {MAX_MANIFEST_BYTES}",
            bytes.len()
        )));
    }
    let doc: Document = serde_json::from_slice(bytes)
        .map_err(|e| ImageError::invalid(format!("invalid manifest: {e}")))?;
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim())
        .filter(|c| !c.is_empty() && !GENERIC_CONTENT_TYPES.contains(c));
    let declared = match (header, doc.media_type.as_deref()) {
        (Some(h), Some(d)) if h != d => {
            return Err(ImageError::invalid(format!(
                "manifest media type {d:?} does not match its content type {h:?}"
            )))
        }
        (h, d) => d.or(h),
    };
    if doc.schema_version == Some(1) || declared.is_some_and(|t| SCHEMA1.contains(&t)) {
        return Err(ImageError::Unsupported(
            "Docker image manifest schema 1 is not supported; push the image again with a \
             current client"
                .to_string(),
        ));
    }
    if doc.schema_version != Some(2) {
        return Err(ImageError::invalid(format!(
            "invalid manifest: schemaVersion must be 2, got {}",
            doc.schema_version
                .map_or_else(|| "none".to_string(), |v| v.to_string())
        )));
    }
    let is_index = doc.manifests.is_some();
    let is_image = doc.config.is_some() || doc.layers.is_some();
    if is_index && is_image {
        return Err(ImageError::invalid(
            "invalid manifest: it mixes index fields (manifests) with image fields (config, \
             layers)",
        ));
    }
    let media_type = match declared {
        Some(t) => known_media_type(t)?,
        None if is_index => OCI_INDEX,
        None if is_image => OCI_MANIFEST,
        None => {
            return Err(ImageError::invalid(
                "invalid manifest: neither an image manifest nor an index",
            ))
        }
    };
    if media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST {
        let manifests = doc
            .manifests
            .ok_or_else(|| missing(media_type, "manifests"))?;
        return Ok(ParsedManifest::Index(Index {
            media_type,
            manifests: descriptors(manifests)?,
        }));
    }
    if is_index {
        return Err(ImageError::invalid(format!(
            "invalid manifest: a {media_type} cannot list manifests"
        )));
    }
    let config = doc.config.ok_or_else(|| missing(media_type, "config"))?;
    let layers = doc.layers.ok_or_else(|| missing(media_type, "layers"))?;
    Ok(ParsedManifest::Image(ImageManifest {
        media_type,
        config: descriptor(config)?,
        layers: descriptors(layers)?,
    }))
}

/// Our constant for a supported manifest media type.
fn known_media_type(media_type: &str) -> Result<&'static str, ImageError> {
    ACCEPTED
        .iter()
        .find(|t| **t == media_type)
        .copied()
        .ok_or_else(|| {
            ImageError::Unsupported(format!("unsupported manifest media type {media_type:?}"))
        })
}

fn missing(media_type: &str, field: &str) -> ImageError {
    ImageError::invalid(format!("invalid manifest: a {media_type} needs {field}"))
}

fn descriptors(raw: Vec<RawDescriptor>) -> Result<Vec<Descriptor>, ImageError> {
    raw.into_iter().map(descriptor).collect()
}

fn descriptor(raw: RawDescriptor) -> Result<Descriptor, ImageError> {
    let digest = parse_digest(&raw.digest)
        .map_err(|e| ImageError::invalid(format!("invalid manifest: {e}")))?;
    Ok(Descriptor {
        media_type: raw.media_type,
        digest,
        size: raw.size,
        platform: raw.platform.map(|p| Platform {
            os: p.os,
            architecture: p.architecture,
            variant: p.variant.filter(|v| !v.is_empty()),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn digest(c: char) -> String {
        format!("sha256:{}", c.to_string().repeat(64))
    }

    fn image(media_type: Option<&str>) -> String {
        let mt = media_type.map_or(String::new(), |m| format!(r#""mediaType":"{m}","#));
        format!(
            r#"{{"schemaVersion":2,{mt}"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":7}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":9}}]}}"#,
            digest('a'),
            digest('b')
        )
    }

    fn index(media_type: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{media_type}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":3,"platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}}]}}"#,
            digest('c')
        )
    }

    #[test]
    fn image_manifests_parse_with_or_without_media_type() {
        for (mt, header, want) in [
            (Some(DOCKER_MANIFEST), None, DOCKER_MANIFEST),
            (Some(OCI_MANIFEST), Some(OCI_MANIFEST), OCI_MANIFEST),
            (None, None, OCI_MANIFEST),
            (None, Some(DOCKER_MANIFEST), DOCKER_MANIFEST),
            (None, Some("application/json; charset=utf-8"), OCI_MANIFEST),
        ] {
            let ParsedManifest::Image(m) = parse(image(mt).as_bytes(), header).unwrap() else {
                panic!("not an image");
            };
            assert_eq!(m.media_type, want);
            assert_eq!(m.config.digest, digest('a'));
            assert_eq!(m.config.size, 7);
            assert_eq!(m.layers.len(), 1);
            assert_eq!(m.layers[0].digest, digest('b'));
        }
    }

    #[test]
    fn indexes_parse_with_platforms() {
        for mt in [OCI_INDEX, DOCKER_MANIFEST_LIST] {
            let ParsedManifest::Index(i) = parse(index(mt).as_bytes(), Some(mt)).unwrap() else {
                panic!("not an index");
            };
            assert_eq!(i.media_type, mt);
            let platform = i.manifests[0].platform.clone().unwrap();
            assert_eq!(platform.architecture, "arm");
            assert_eq!(platform.variant.as_deref(), Some("v7"));
        }
    }

    #[test]
    fn a_document_mixing_index_and_image_fields_is_refused() {
        let mixed = image(None).replacen(r#""config""#, r#""manifests":[],"config""#, 1);
        let err = parse(mixed.as_bytes(), None).unwrap_err();
        assert!(matches!(err, ImageError::InvalidArgument(_)), "{err}");
        assert!(err.to_string().contains("mixes"), "{err}");
        // An index media type on an image document is refused too.
        let err = parse(image(Some(OCI_INDEX)).as_bytes(), None).unwrap_err();
        assert!(matches!(err, ImageError::InvalidArgument(_)), "{err}");
    }

    #[test]
    fn header_and_document_media_types_must_agree() {
        let err = parse(image(Some(OCI_MANIFEST)).as_bytes(), Some(DOCKER_MANIFEST)).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn schema1_and_unknown_media_types_are_unsupported() {
        let schema1 = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
        assert!(matches!(
            parse(schema1, None),
            Err(ImageError::Unsupported(_))
        ));
        assert!(matches!(
            parse(image(None).as_bytes(), Some(SCHEMA1[1])),
            Err(ImageError::Unsupported(_))
        ));
        let err = parse(
            image(Some("application/vnd.cncf.helm.chart.v1+json")).as_bytes(),
            None,
        )
        .unwrap_err();
        assert!(matches!(err, ImageError::Unsupported(_)), "{err}");
    }

    #[test]
    fn malformed_documents_are_invalid() {
        let bad_digest = image(None).replace(&digest('b'), "sha256:zz");
        let too_big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        let no_layers = image(None).replace("\"layers\"", "\"other\"");
        for bad in [
            b"not json".to_vec(),
            b"{}".to_vec(),
            br#"{"schemaVersion":2}"#.to_vec(),
            bad_digest.into_bytes(),
            too_big,
            no_layers.into_bytes(),
            image(None)
                .replace("\"size\":9", "\"size\":-9")
                .into_bytes(),
        ] {
            let err = parse(&bad, None).unwrap_err();
            assert!(matches!(err, ImageError::InvalidArgument(_)), "{err}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes, None);
        }

        #[test]
        fn arbitrary_json_documents_never_panic(
            doc in r#"\{("(schemaVersion|mediaType|config|layers|manifests|size|digest)":(2|1|"[a-z./+:0-9]{0,20}"|\[\]|\{\}|null),?){0,6}\}"#,
            header in proptest::option::of("[a-z./+;= ]{0,40}"),
        ) {
            let _ = parse(doc.as_bytes(), header.as_deref());
        }

        #[test]
        fn generated_images_round_trip(sizes in proptest::collection::vec(0u64..u64::MAX, 0..20)) {
            let layers: Vec<String> = sizes.iter().map(|s| format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{s}}}"#,
                digest('d')
            )).collect();
            let doc = format!(
                r#"{{"schemaVersion":2,"config":{{"mediaType":"x","digest":"{}","size":1}},"layers":[{}]}}"#,
                digest('e'),
                layers.join(",")
            );
            let ParsedManifest::Image(m) = parse(doc.as_bytes(), None).unwrap() else {
                panic!("not an image");
            };
            prop_assert_eq!(m.layers.iter().map(|l| l.size).collect::<Vec<_>>(), sizes);
        }
    }
}
