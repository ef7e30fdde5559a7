//! CreateContainer: validate, merge the image's defaults, allocate ID and name, write the host
//! files, store the record. A refused request leaves no record, name or directory behind.

use std::{fs, sync::Arc};

use berth_proto::node::v1::{
    Container, ContainerConfig, ContainerState, ContainerStatus, CreateContainerRequest,
    HostConfig, MountPoint, MountType, NetworkSettings,
};
use berth_store::StoreError;

use super::{
    container_event, entry::Entry, hostfiles, ids, merge, restart, signals, validate,
    ContainerManager,
};
use crate::{
    context::{blocking, Context},
    error::{DomainError, DomainResult},
    host,
    paths::ContainerPaths,
    spec::{self, HostFiles, SpecError, SpecInputs},
    time,
};

/// How often a generated name is retried after a collision.
const NAME_ATTEMPTS: u32 = 20;

impl ContainerManager {
    /// Creates a container; returns its ID and warnings.
    pub async fn create(&self, req: CreateContainerRequest) -> DomainResult<(String, Vec<String>)> {
        let ctx = Arc::clone(&self.ctx);
        let record = blocking("creating the container", move || create(&ctx, req)).await?;
        let id = record.id.clone();
        self.insert(Entry::new(record));
        Ok((id, Vec::new()))
    }
}

fn create(ctx: &Context, req: CreateContainerRequest) -> DomainResult<Container> {
    let mut config = req.config.unwrap_or_default();
    let host = req.host_config.unwrap_or_default();
    check_request(&req.name, &config, &host)?;
    let image = ctx.images.get(&config.image)?;
    merge::merge_image_defaults(&mut config, &image.config);
    let (path, args) = merge::path_and_args(&config)?;
    signals::parse(&config.stop_signal, nix::sys::signal::Signal::SIGTERM)?;
    let host_network = host.network_mode == "host";

    let id = ids::new_id();
    if config.hostname.is_empty() {
        config.hostname = if host_network {
            host::hostname()
        } else {
            id[..12].to_owned()
        };
    }
    let paths = ctx.paths.container(&id);
    let log = validate::log_options(host.log_config.as_ref(), paths.log())?;
    let layers = ctx.images.layer_dirs(&image.id)?;
    probe_spec(&id, &config, &host, &layers, &paths)?;

    let hosts = hostfiles::hosts_file(&config.hostname, None, &host.extra_hosts)?;
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = hostfiles::resolv_conf(&host_resolv, &host.dns, host_network)?;

    let mut record = Container {
        id: id.clone(),
        name: req.name.clone(),
        created: Some(time::now()),
        path,
        args,
        image_id: image.id.clone(),
        mounts: mount_points(&host),
        network_settings: Some(NetworkSettings {
            mode: if host_network { "host" } else { "none" }.to_owned(),
            sandbox_key: String::new(),
        }),
        config: Some(config),
        host_config: Some(host),
        state: Some(ContainerState {
            status: ContainerStatus::Created.into(),
            ..ContainerState::default()
        }),
        restart_count: 0,
        log_path: log.path.to_string_lossy().into_owned(),
        hostname_path: paths.hostname().to_string_lossy().into_owned(),
        hosts_path: paths.hosts().to_string_lossy().into_owned(),
        resolv_conf_path: paths.resolv_conf().to_string_lossy().into_owned(),
        driver: "overlay2".to_owned(),
        runtime: ctx.runtime.name.clone(),
        size_rw: None,
    };

    let hostname = record
        .config
        .as_ref()
        .map(|c| hostfiles::hostname_file(&c.hostname))
        .unwrap_or_default();
    write_host_files(&paths, &hostname, &hosts, &resolv)
        .map_err(|e| DomainError::internal(format!("writing the files of container {id}"), e))?;
    match store(ctx, &mut record, req.name.is_empty()) {
        Ok(()) => Ok(record),
        Err(e) => {
            let _ = fs::remove_dir_all(paths.dir());
            Err(e)
        }
    }
}

/// The checks that need neither the image nor the disk.
fn check_request(name: &str, config: &ContainerConfig, host: &HostConfig) -> DomainResult<()> {
    if !name.is_empty() {
        ids::validate_name(name)?;
    }
    if config.image.is_empty() {
        return Err(DomainError::InvalidArgument(
            "no image given: an image reference is required".to_owned(),
        ));
    }
    if !config.working_dir.is_empty() && !config.working_dir.starts_with('/') {
        return Err(DomainError::InvalidArgument(format!(
            "the working directory '{}' is invalid, it needs to be an absolute path",
            config.working_dir
        )));
    }
    if config.stop_timeout.is_some_and(|t| t < -1) {
        return Err(DomainError::InvalidArgument(
            "invalid stop timeout: must be -1 (no limit) or more".to_owned(),
        ));
    }
    restart::validate(host.restart_policy.as_ref(), host.auto_remove)
}

/// Runs the spec builder at create time, so bad mounts and limits fail now. The user and the
/// working directory are resolved (and created) at start, in the mounted rootfs; here the
/// image's top layer only stands in and must not be written, so both are left out.
fn probe_spec(
    id: &str,
    config: &ContainerConfig,
    host: &HostConfig,
    layers: &[std::path::PathBuf],
    paths: &ContainerPaths,
) -> DomainResult<()> {
    let mut probe = config.clone();
    probe.user.clear();
    probe.working_dir.clear();
    let rootfs = layers.first().cloned().unwrap_or_else(|| paths.rootfs());
    let (hosts, hostname, resolv_conf) = (paths.hosts(), paths.hostname(), paths.resolv_conf());
    let inputs = SpecInputs {
        id,
        config: &probe,
        host,
        rootfs: &rootfs,
        host_files: HostFiles {
            hosts: &hosts,
            hostname: &hostname,
            resolv_conf: &resolv_conf,
        },
    };
    match spec::build_spec(&inputs) {
        Ok(_) | Err(SpecError::Io { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn mount_points(host: &HostConfig) -> Vec<MountPoint> {
    host.mounts
        .iter()
        .map(|m| {
            let bind = m.r#type == i32::from(MountType::Bind);
            MountPoint {
                r#type: m.r#type,
                source: if bind {
                    m.source.clone()
                } else {
                    String::new()
                },
                destination: m.target.clone(),
                rw: !m.read_only,
                propagation: if bind { "rprivate" } else { "" }.to_owned(),
            }
        })
        .collect()
}

fn write_host_files(
    paths: &ContainerPaths,
    hostname: &str,
    hosts: &str,
    resolv: &str,
) -> std::io::Result<()> {
    crate::fsutil::private_dir(paths.dir(), 0o700)?;
    fs::write(paths.hostname(), hostname)?;
    fs::write(paths.hosts(), hosts)?;
    fs::write(paths.resolv_conf(), resolv)
}

/// Stores the record with its `create` event; picks a free generated name when none was given.
fn store(ctx: &Context, record: &mut Container, generate_name: bool) -> DomainResult<()> {
    for attempt in 0..NAME_ATTEMPTS {
        if generate_name {
            record.name = ids::random_name(attempt);
        }
        let mut batch = ctx.store.write()?;
        match batch.insert_container(record) {
            Err(StoreError::NameInUse { .. }) if generate_name => continue,
            other => other?,
        }
        batch.append_event(&container_event(record, "create", &[]))?;
        return ctx.events.commit(batch);
    }
    Err(DomainError::Internal(
        "could not find a free container name".to_owned(),
    ))
}
