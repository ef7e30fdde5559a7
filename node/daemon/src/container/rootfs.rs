//! The container's root filesystem and bundle: overlay mounts, the runtime spec, and cleaning
//! up what a dead shim left behind.

use std::{path::PathBuf, sync::Arc};

use berth_image::overlay::{self, OverlayMount};
use berth_proto::node::v1::Container;
use berth_shim::{RuntimeChoice, ShimConfig};
use tokio::sync::OwnedMutexGuard;

use super::validate;
use crate::{
    context::Context,
    error::{DomainError, DomainResult},
    fsutil,
    spec::{self, HostFiles, SpecInputs},
};

/// The overlay of a container: its image's layers under its writable layer.
pub fn overlay_of(ctx: &Context, c: &Container) -> DomainResult<OverlayMount> {
    let paths = ctx.paths.container(&c.id);
    Ok(OverlayMount {
        lowers: ctx.images.layer_dirs(&c.image_id)?,
        upper: paths.upper(),
        work: paths.work(),
        target: paths.rootfs(),
    })
}

/// Builds the container's spec against its mounted rootfs.
pub fn build_spec(ctx: &Context, c: &Container) -> DomainResult<oci_spec::runtime::Spec> {
    let paths = ctx.paths.container(&c.id);
    let (rootfs, hosts, hostname, resolv) = (
        paths.rootfs(),
        paths.hosts(),
        paths.hostname(),
        paths.resolv_conf(),
    );
    let config = c.config.clone().unwrap_or_default();
    let host = c.host_config.clone().unwrap_or_default();
    let mut spec = spec::build_spec(&SpecInputs {
        id: &c.id,
        config: &config,
        host: &host,
        rootfs: &rootfs,
        host_files: HostFiles {
            hosts: &hosts,
            hostname: &hostname,
            resolv_conf: &resolv,
        },
    })?;
    if let Some(linux) = spec.linux_mut() {
        linux.set_cgroups_path(Some(format!("{}/{}", ctx.cgroup_parent, c.id).into()));
    }
    Ok(spec)
}

/// Mounts the rootfs, writes `config.json` and returns the shim's config. On failure nothing
/// stays mounted.
pub fn prepare_run(ctx: &Context, c: &Container) -> DomainResult<ShimConfig> {
    let paths = ctx.paths.container(&c.id);
    let mount = overlay_of(ctx, c)?;
    mount.mount()?;
    let built = build_spec(ctx, c).and_then(|spec| {
        let json = serde_json::to_vec_pretty(&spec)
            .map_err(|e| DomainError::internal("encoding the runtime spec", e))?;
        fsutil::write_atomic(&paths.config_json(), &json)
            .map_err(|e| DomainError::internal("writing config.json", e))
    });
    if let Err(e) = built {
        let _ = overlay::unmount(&mount.target);
        return Err(e);
    }
    let _ = std::fs::remove_file(paths.exit_file());
    let config = c.config.clone().unwrap_or_default();
    let host = c.host_config.clone().unwrap_or_default();
    Ok(ShimConfig {
        id: c.id.clone(),
        bundle: paths.dir().to_owned(),
        rootfs: Some(mount),
        socket: paths.socket.clone(),
        log: validate::log_options(host.log_config.as_ref(), paths.log())?,
        exit_file: paths.exit_file(),
        runtime: ctx.runtime.choice.clone(),
        runtime_root: ctx.paths.runtime_root(),
        tty: config.tty,
        open_stdin: config.open_stdin,
    })
}

/// The runtime spec written at the last start.
pub fn read_spec(ctx: &Context, id: &str) -> DomainResult<oci_spec::runtime::Spec> {
    let path = ctx.paths.container(id).config_json();
    let text = std::fs::read(&path)
        .map_err(|e| DomainError::internal(format!("reading {}", path.display()), e))?;
    serde_json::from_slice(&text)
        .map_err(|e| DomainError::internal(format!("parsing {}", path.display()), e))
}

/// Removes what a dead shim may have left: the runtime's state (killing any process still in
/// the container's cgroup), the rootfs mount and the socket.
pub async fn clean_up_after_shim(ctx: &Arc<Context>, c: &Container) {
    let runtime_root = ctx.paths.runtime_root();
    let runtime = if c.runtime == ctx.runtime.name {
        ctx.runtime.choice.clone()
    } else {
        match crate::config::resolve_runtime(&c.runtime, std::env::var_os("PATH").as_deref()) {
            Ok(r) => r.choice,
            Err(_) => ctx.runtime.choice.clone(),
        }
    };
    match runtime {
        RuntimeChoice::Builtin => {
            let id = c.id.clone();
            let root = runtime_root.clone();
            let result = tokio::task::spawn_blocking(move || {
                // Force-delete neither forks nor execs: safe from a threaded process.
                berth_runtime::Runtime::new(root).delete(&id, true)
            })
            .await;
            if let Ok(Err(e)) = result {
                tracing::warn!(container = %c.id, error = %e, "deleting leftover runtime state");
            }
        }
        RuntimeChoice::Binary(binary) => {
            let status = tokio::process::Command::new(&binary)
                .arg("--root")
                .arg(&runtime_root)
                .args(["delete", "--force", &c.id])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .await;
            if let Err(e) = status {
                tracing::warn!(container = %c.id, error = %e, "running {} delete", binary.display());
            }
        }
    }
    let paths = ctx.paths.container(&c.id);
    let rootfs = paths.rootfs();
    let socket = paths.socket.clone();
    let _ = tokio::task::spawn_blocking(move || {
        if let Err(e) = overlay::unmount(&rootfs) {
            tracing::warn!(error = %e, "unmounting {}", rootfs.display());
        }
        let _ = std::fs::remove_file(socket);
    })
    .await;
}

/// A rootfs mounted for the duration of a copy or export of a stopped container. It holds the
/// container's operation lock, so the container cannot start or go away meanwhile, and
/// unmounts on drop.
pub struct TemporaryMount {
    target: PathBuf,
    _op: OwnedMutexGuard<()>,
}

impl TemporaryMount {
    /// Mounts `mount` while `op` is held.
    pub fn mount(mount: &OverlayMount, op: OwnedMutexGuard<()>) -> DomainResult<Self> {
        mount.mount()?;
        Ok(Self {
            target: mount.target.clone(),
            _op: op,
        })
    }
}

impl Drop for TemporaryMount {
    fn drop(&mut self) {
        if let Err(e) = overlay::unmount(&self.target) {
            tracing::warn!(error = %e, "unmounting {}", self.target.display());
        }
    }
}
