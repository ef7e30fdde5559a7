//! Builds a container's OCI runtime spec from its settings and its image, with Docker's
//! defaults and SECURITY.md's rules. Every bad input is a [`SpecError`] with a one-line message
//! (the daemon maps them to INVALID_ARGUMENT).
//!
//! Reads the host (rlimits, CPUs, devices for `--privileged`) and the container's rootfs (its
//! user database, in-root); the only thing written is a missing working directory, created
//! in-root as Docker does.

mod capabilities;
mod cpuset;
mod devices;
mod exec;
mod mounts;
mod network;
mod paths;
mod process;
mod resources;
mod rlimits;
mod security;
mod user;
mod userdb;

#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;

use berth_proto::node::v1::{ContainerConfig, ExecStart, HostConfig};
use berth_runtime::seccomp::docker_default_profile;
use oci_spec::runtime::{Linux, Process, Root, Spec};

pub use network::{parse_network_mode, NetworkMode};
pub use process::DEFAULT_PATH;

/// Set to `true` when the runtime must run its minimal init as PID 1 (`--init`).
pub const INIT_ANNOTATION: &str = "berth.init";

/// The OCI version of the specs built here.
const OCI_VERSION: &str = "1.2.0";

/// Why a spec could not be built. Every variant is the caller's bad input.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// A malformed or unsupported setting; the message names it.
    #[error("{0}")]
    Invalid(String),
    /// A setting whose feature has not landed yet (named volumes, bridge networks).
    #[error("{0}")]
    Unsupported(String),
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

/// The cgroup of container `id`, relative to the runtime's cgroup root.
pub fn cgroups_path(id: &str) -> String {
    format!("/berth/{id}")
}

/// Builds the runtime spec for the container's main process.
pub fn build_spec(inputs: &SpecInputs<'_>) -> Result<Spec, SpecError> {
    let SpecInputs {
        id, config, host, ..
    } = *inputs;
    let security = security::parse_security_opts(&host.security_opt)?;
    let caps =
        capabilities::container_capabilities(host.privileged, &host.cap_add, &host.cap_drop)?;
    let network = network::parse_network_mode(&host.network_mode)?;
    let hostname = network::hostname(&config.hostname, id, network)?;
    if !config.domainname.is_empty() {
        network::check_name(&config.domainname, "domain name")?;
    }
    let args = process::command(&config.entrypoint, &config.cmd)?;
    let cwd = process::working_dir(&config.working_dir)?;
    let user = user::resolve_user(&config.user, inputs.rootfs)?;
    let env = process::container_env(&config.env, &hostname, config.tty, &user.home)?;
    let ulimits = host
        .resources
        .as_ref()
        .map_or(&[][..], |r| r.ulimits.as_slice());
    let rlimits = rlimits::rlimits(ulimits)?;
    let mount_plan = mounts::container_mounts(&host.mounts, &inputs.host_files, host.privileged)?;
    let resources = resources::linux_resources(
        host.resources.as_ref(),
        host.privileged,
        &resources::HostCpus::probe()?,
    )?;
    // Last, once everything else is known to be valid: the only write.
    process::ensure_working_dir(inputs.rootfs, &cwd)?;

    let mut process = Process::default();
    process
        .set_terminal(Some(config.tty))
        .set_console_size(None)
        .set_user(process::oci_user(&user))
        .set_args(Some(args))
        .set_env(Some(env))
        .set_cwd(cwd.into())
        .set_capabilities(Some(capabilities::linux_capabilities(&caps, user.uid)))
        .set_rlimits(Some(rlimits))
        .set_no_new_privileges(Some(security.no_new_privileges))
        .set_oom_score_adj(None);

    let mut linux = Linux::default();
    linux
        .set_namespaces(Some(network::namespaces(network)))
        .set_cgroups_path(Some(cgroups_path(id).into()))
        .set_resources(Some(resources))
        .set_rootfs_propagation(mount_plan.rootfs_propagation)
        .set_sysctl(None);
    confine(
        &mut linux,
        host.privileged,
        security.seccomp_unconfined,
        &caps,
    )?;

    let mut root = Root::default();
    root.set_path("rootfs".into())
        .set_readonly(Some(host.read_only_rootfs));

    let mut annotations = HashMap::new();
    if host.init {
        annotations.insert(INIT_ANNOTATION.to_owned(), "true".to_owned());
    }

    let mut spec = Spec::default();
    spec.set_version(OCI_VERSION.to_owned())
        .set_process(Some(process))
        .set_root(Some(root))
        .set_hostname(Some(hostname))
        .set_domainname((!config.domainname.is_empty()).then(|| config.domainname.clone()))
        .set_mounts(Some(mount_plan.mounts))
        .set_annotations(Some(annotations))
        .set_linux(Some(linux))
        .set_hooks(None);
    Ok(spec)
}

/// Masked and read-only paths, devices and seccomp: Docker's confinement, or none of it for a
/// privileged container (which sees every host device instead).
fn confine(
    linux: &mut Linux,
    privileged: bool,
    seccomp_unconfined: bool,
    caps: &[oci_spec::runtime::Capability],
) -> Result<(), SpecError> {
    if privileged {
        linux
            .set_masked_paths(None)
            .set_readonly_paths(None)
            .set_devices(Some(devices::host_devices()?))
            .set_seccomp(None);
        return Ok(());
    }
    linux
        .set_masked_paths(Some(strings(&security::MASKED_PATHS)))
        .set_readonly_paths(Some(strings(&security::READONLY_PATHS)))
        .set_devices(None)
        .set_seccomp((!seccomp_unconfined).then(|| docker_default_profile(caps)));
    Ok(())
}

/// The cgroup limits `resources` asks for, checked like a new container's, for a live update:
/// without device rules, which are fixed when the container is created.
pub fn live_limits(
    resources: &berth_proto::node::v1::Resources,
) -> Result<oci_spec::runtime::LinuxResources, SpecError> {
    let mut limits =
        resources::linux_resources(Some(resources), false, &resources::HostCpus::probe()?)?;
    limits.set_devices(None);
    Ok(limits)
}

/// Builds the process of an exec from the container's spec and the request: the container's
/// environment with the request's on top (plus `TERM` for a TTY), the request's working
/// directory and user (resolved in `rootfs`) or the container's, every capability for a
/// privileged exec, and the container's rlimits and `no_new_privs`.
pub fn exec_process(
    container: &Spec,
    request: &ExecStart,
    rootfs: &Path,
) -> Result<Process, SpecError> {
    exec::exec_process(container, request, rootfs)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}
