//! Builds a container's OCI runtime spec from its settings and its image (API contract; the
//! body lands with the spec-builder work).

use std::path::Path;

use berth_proto::node::v1::{ContainerConfig, ExecStart, HostConfig};

/// Why a spec could not be built. Every variant is the caller's bad input.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A malformed or unsupported setting; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// A bind-mount source that does not exist.
    #[error("invalid mount config: bind source path does not exist: {0}")]
    MissingBindSource(String),
    /// Reading the container's user database failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being read.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Everything the spec depends on.
#[derive(Debug, Clone, Copy)]
pub struct SpecInputs<'a> {
    /// The container ID (also the default hostname's source and the cgroup name).
    pub id: &'a str,
    /// The container's settings, already merged with the image's defaults.
    pub config: &'a ContainerConfig,
    /// The host settings.
    pub host: &'a HostConfig,
    /// The mounted root filesystem; user and group names are resolved in it.
    pub rootfs: &'a Path,
    /// The container's `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` on the host.
    pub host_files: HostFiles<'a>,
}

/// The per-container files bound over `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`.
#[derive(Debug, Clone, Copy)]
pub struct HostFiles<'a> {
    /// Bound to `/etc/hosts`.
    pub hosts: &'a Path,
    /// Bound to `/etc/hostname`.
    pub hostname: &'a Path,
    /// Bound to `/etc/resolv.conf`.
    pub resolv_conf: &'a Path,
}

/// Builds the runtime spec for the container's main process.
pub fn build_spec(_inputs: &SpecInputs<'_>) -> Result<oci_spec::runtime::Spec, SpecError> {
    unimplemented!("contract")
}

/// Builds the process of an exec from the container's spec and the request.
pub fn exec_process(
    _container: &oci_spec::runtime::Spec,
    _request: &ExecStart,
    _rootfs: &Path,
) -> Result<oci_spec::runtime::Process, SpecError> {
    unimplemented!("contract")
}
