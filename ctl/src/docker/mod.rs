//! Docker-shaped views of the API's messages: the field names and formatting scripts written
//! for Docker expect (`inspect`, `ps`, `images`, `stats`, `events`).

pub mod container;
pub mod event;
pub mod image;
pub mod ps;
pub mod stats;

use berth_proto::node::v1::{ContainerStatus, MountType};

/// Docker's lower-case name of a container status; a record without one counts as created.
pub fn status_name(status: ContainerStatus) -> &'static str {
    match status {
        ContainerStatus::Unspecified => "created",
        known => known.docker_name(),
    }
}

/// Docker's name of a mount type.
pub fn mount_type_name(kind: MountType) -> &'static str {
    match kind {
        MountType::Unspecified | MountType::Bind => "bind",
        MountType::Volume => "volume",
        MountType::Tmpfs => "tmpfs",
    }
}

/// A reference in Docker's familiar form: `docker.io/library/busybox:latest` is
/// `busybox:latest`, `docker.io/me/app:1` is `me/app:1`.
pub fn familiar_reference(reference: &str) -> &str {
    reference
        .strip_prefix("docker.io/library/")
        .or_else(|| reference.strip_prefix("docker.io/"))
        .unwrap_or(reference)
}

/// Splits a familiar `repo:tag` into its repository and tag (the colon after the last `/`).
pub fn split_tag(reference: &str) -> (&str, &str) {
    let name_start = reference.rfind('/').map_or(0, |slash| slash + 1);
    match reference[name_start..].rfind(':') {
        Some(colon) => (
            &reference[..name_start + colon],
            &reference[name_start + colon + 1..],
        ),
        None => (reference, "latest"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn references() {
        assert_eq!(
            familiar_reference("docker.io/library/busybox:latest"),
            "busybox:latest"
        );
        assert_eq!(familiar_reference("docker.io/me/app:1"), "me/app:1");
        assert_eq!(familiar_reference("host:5000/app:v1"), "host:5000/app:v1");
        assert_eq!(split_tag("busybox:latest"), ("busybox", "latest"));
        assert_eq!(split_tag("host:5000/app:v1"), ("host:5000/app", "v1"));
        assert_eq!(split_tag("host:5000/app"), ("host:5000/app", "latest"));
        assert_eq!(split_tag("bb"), ("bb", "latest"));
    }

    proptest! {
        #[test]
        fn split_never_panics(reference in "\\PC{0,30}") {
            let (repo, tag) = split_tag(familiar_reference(&reference));
            prop_assert!(reference.contains(repo));
            let suffix = format!(":{}", tag);
            prop_assert!(tag == "latest" || reference.ends_with(&suffix));
        }
    }
}
