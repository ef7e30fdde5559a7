//! Loading and checking an OCI bundle (`config.json` plus the root filesystem).

use oci_spec::runtime::Spec;
use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{Result, RuntimeError};

/// A bundle whose config parsed and whose root filesystem exists.
#[derive(Debug)]
pub struct Bundle {
    /// Absolute, symlink-free bundle directory.
    pub path: PathBuf,
    pub spec: Spec,
    /// Absolute host path of `root.path`.
    pub rootfs: PathBuf,
}

impl Bundle {
    pub fn load(dir: &Path) -> Result<Bundle> {
        let bad = |reason: String| RuntimeError::Bundle {
            path: dir.to_owned(),
            reason,
        };
        let path = fs::canonicalize(dir).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => bad("does not exist".into()),
            _ => bad(e.to_string()),
        })?;
        let config = path.join("config.json");
        let data = fs::read(&config).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => bad("has no config.json".into()),
            _ => bad(format!("reading config.json: {e}")),
        })?;
        let spec: Spec = serde_json::from_slice(&data)
            .map_err(|e| bad(format!("malformed config.json: {e}")))?;
        let root = spec
            .root()
            .as_ref()
            .ok_or_else(|| bad("config.json has no root".into()))?;
        let rootfs = path.join(root.path());
        if !rootfs.is_dir() {
            return Err(bad(format!(
                "root filesystem {} is not a directory",
                rootfs.display()
            )));
        }
        validate(&spec).map_err(|reason| bad(format!("invalid config.json: {reason}")))?;
        Ok(Bundle { path, spec, rootfs })
    }
}

/// Checks what serde cannot: the parts of the spec a Linux container needs.
fn validate(spec: &Spec) -> std::result::Result<(), String> {
    let process = spec.process().as_ref().ok_or("no process")?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err("process.args is empty".into());
    }
    if !process.cwd().is_absolute() {
        return Err(format!(
            "process.cwd {:?} is not absolute",
            process.cwd().display()
        ));
    }
    if let Some(profile) = process.apparmor_profile() {
        tracing::warn!("AppArmor is not supported; profile {profile:?} is not applied");
    }
    if let Some(label) = process.selinux_label() {
        tracing::warn!("SELinux is not supported; label {label:?} is not applied");
    }
    let linux = spec.linux().as_ref().ok_or("no linux section")?;
    let mut seen = HashSet::new();
    for ns in linux.namespaces().iter().flatten() {
        if !seen.insert(ns.typ()) {
            return Err(format!("namespace {} listed twice", ns.typ()));
        }
    }
    for mount in spec.mounts().iter().flatten() {
        if !mount.destination().is_absolute() {
            return Err(format!(
                "mount destination {:?} is not absolute",
                mount.destination().display()
            ));
        }
    }
    Ok(())
}
