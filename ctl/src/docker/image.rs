//! `docker images` rows and `docker image inspect`'s view of an image.

use super::{familiar_reference, split_tag};
use crate::output::humanize::{
    ago, go_time_string, human_size, rfc3339_nano, short_id, to_datetime, ZERO_TIME,
};
use berth_proto::node::v1::Image;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `docker images`' default table.
pub const DEFAULT_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

/// The column titles of the `images` fields.
pub fn headers() -> Value {
    json!({
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
        "Containers": "CONTAINERS",
    })
}

/// The `images` rows of an image: one per tag, or one `<none>` row when untagged.
pub fn rows(image: &Image, now: DateTime<Utc>, truncate: bool) -> Vec<Value> {
    let created = to_datetime(image.created.as_ref());
    let digest_of = |repository: &str| {
        image
            .repo_digests
            .iter()
            .map(|d| familiar_reference(d))
            .find_map(|d| {
                d.split_once('@')
                    .filter(|(repo, _)| *repo == repository)
                    .map(|(_, digest)| digest.to_string())
            })
            .unwrap_or_else(|| "<none>".to_string())
    };
    let row = |repository: &str, tag: &str| {
        json!({
            "ID": if truncate { short_id(&image.id).to_string() } else { image.id.clone() },
            "Repository": repository,
            "Tag": tag,
            "Digest": if repository == "<none>" { "<none>".to_string() } else { digest_of(repository) },
            "CreatedSince": created.map_or_else(|| "N/A".to_string(), |c| ago(c, now)),
            "CreatedAt": created.map_or_else(String::new, go_time_string),
            "Size": human_size(image.size as f64, 3),
            "VirtualSize": human_size(image.size as f64, 4),
            "SharedSize": "N/A",
            "UniqueSize": "N/A",
            "Containers": "N/A",
        })
    };
    if image.repo_tags.is_empty() {
        return vec![row("<none>", "<none>")];
    }
    image
        .repo_tags
        .iter()
        .map(|reference| {
            let (repository, tag) = split_tag(familiar_reference(reference));
            row(repository, tag)
        })
        .collect()
}

/// An image as `docker image inspect` prints it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InspectImage {
    id: String,
    repo_tags: Vec<String>,
    repo_digests: Vec<String>,
    parent: &'static str,
    comment: String,
    created: String,
    author: String,
    config: ImageConfigView,
    architecture: String,
    os: String,
    size: i64,
    virtual_size: i64,
    #[serde(rename = "RootFS")]
    root_fs: Value,
    metadata: Value,
}

/// An image's container defaults, as Docker's `Config` shows them.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ImageConfigView {
    hostname: &'static str,
    domainname: &'static str,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    exposed_ports: Option<BTreeMap<String, Value>>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    image: &'static str,
    volumes: Option<BTreeMap<String, Value>>,
    working_dir: String,
    entrypoint: Option<Vec<String>>,
    on_build: Option<Vec<String>>,
    labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    stop_signal: String,
}

/// Docker prints an empty list as `null`.
fn list(items: &[String]) -> Option<Vec<String>> {
    (!items.is_empty()).then(|| items.to_vec())
}

/// Docker's sets (`Volumes`, `ExposedPorts`): keys mapping to `{}`.
fn set(items: &[String]) -> Option<BTreeMap<String, Value>> {
    (!items.is_empty()).then(|| items.iter().map(|item| (item.clone(), json!({}))).collect())
}

/// Builds the inspect view of an image.
pub fn inspect(image: &Image) -> InspectImage {
    let config = image.config.clone().unwrap_or_default();
    let root_fs = image.root_fs.clone().unwrap_or_default();
    let config_view = ImageConfigView {
        hostname: "",
        domainname: "",
        user: config.user.clone(),
        attach_stdin: false,
        attach_stdout: false,
        attach_stderr: false,
        exposed_ports: set(&config.exposed_ports),
        tty: false,
        open_stdin: false,
        stdin_once: false,
        env: list(&config.env),
        cmd: list(&config.cmd),
        image: "",
        volumes: set(&config.volumes),
        working_dir: config.working_dir.clone(),
        entrypoint: list(&config.entrypoint),
        on_build: None,
        labels: (!config.labels.is_empty()).then(|| config.labels.clone().into_iter().collect()),
        stop_signal: config.stop_signal.clone(),
    };
    InspectImage {
        id: image.id.clone(),
        repo_tags: image
            .repo_tags
            .iter()
            .map(|t| familiar_reference(t).to_string())
            .collect(),
        repo_digests: image
            .repo_digests
            .iter()
            .map(|d| familiar_reference(d).to_string())
            .collect(),
        parent: "",
        comment: image.comment.clone(),
        created: rfc3339_nano(image.created.as_ref()),
        author: image.author.clone(),
        config: config_view,
        architecture: image.architecture.clone(),
        os: image.os.clone(),
        size: image.size,
        virtual_size: image.size,
        root_fs: json!({
            "Type": if root_fs.r#type.is_empty() { "layers" } else { root_fs.r#type.as_str() },
            "Layers": root_fs.diff_ids,
        }),
        metadata: json!({ "LastTagTime": ZERO_TIME }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::template::Template;
    use berth_proto::node::v1::{ImageConfig, RootFs};
    use prost_types::Timestamp;

    fn sample() -> Image {
        Image {
            id: "sha256:31424862214b766e2955637926f571858a7b91aa697dc136683ce16b13535f4c".into(),
            repo_tags: vec![
                "docker.io/library/bb:1".into(),
                "docker.io/library/bb:latest".into(),
            ],
            repo_digests: vec![],
            created: Some(Timestamp {
                seconds: 1_795_865_879,
                nanos: 56_065_954,
            }),
            architecture: "amd64".into(),
            os: "linux".into(),
            size: 1_984_230,
            config: Some(ImageConfig {
                env: vec!["PATH=/bin".into()],
                ..Default::default()
            }),
            root_fs: Some(RootFs {
                r#type: "layers".into(),
                diff_ids: vec!["sha256:5f1a".into()],
            }),
            comment: "Imported from -".into(),
            ..Default::default()
        }
    }

    #[test]
    fn rows_like_docker_images() {
        let now = DateTime::from_timestamp(1_795_865_879 + 241, 0).unwrap();
        let rows = rows(&sample(), now, true);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["Repository"], "bb");
        assert_eq!(rows[0]["Tag"], "1");
        assert_eq!(rows[1]["Tag"], "latest");
        assert_eq!(rows[0]["ID"], "31424862214b");
        assert_eq!(rows[0]["Size"], "1.98MB");
        assert_eq!(rows[0]["CreatedSince"], "4 minutes ago");
        assert_eq!(rows[0]["CreatedAt"], "2026-11-28 11:37:59 +0000 UTC");
        assert_eq!(rows[0]["Digest"], "<none>");
        let untagged = Image {
            repo_tags: vec![],
            ..sample()
        };
        assert_eq!(
            super::rows(&untagged, now, false)[0]["Repository"],
            "<none>"
        );
        assert_eq!(super::rows(&untagged, now, false)[0]["ID"], sample().id);
    }

    #[test]
    fn inspect_fields() {
        let value = serde_json::to_value(inspect(&sample())).unwrap();
        let field = |template: &str| Template::parse(template).unwrap().render(&value).unwrap();
        assert_eq!(field("{{.Id}}"), sample().id);
        assert_eq!(field("{{json .RepoTags}}"), r#"["bb:1","bb:latest"]"#);
        assert_eq!(field("{{.Created}}"), "2026-11-28T11:37:59.056065954Z");
        assert_eq!(
            field("{{.Os}}/{{.Architecture}} {{.Size}}"),
            "linux/amd64 1984230"
        );
        assert_eq!(
            field("{{json .Config.Env}} {{json .Config.Cmd}}"),
            r#"["PATH=/bin"] null"#
        );
        assert_eq!(
            field("{{.RootFS.Type}} {{json .RootFS.Layers}}"),
            r#"layers ["sha256:5f1a"]"#
        );
    }
}
