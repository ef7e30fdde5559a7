//! An OCI bundle on disk: a busybox rootfs plus a `config.json` that tests tweak before use.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{
    Linux, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, Mount, Process, Spec,
};
use serde_json::Value;

use crate::error::{FixtureError, Result};
use crate::rootfs::build_busybox_rootfs;
use crate::spec::default_spec;

/// A bundle directory with its container id and the spec to write as `config.json`.
#[derive(Debug)]
pub struct Bundle {
    id: String,
    dir: PathBuf,
    spec: Spec,
    /// Replaces the serialised spec, for configs oci-spec cannot express (bad input).
    raw_config: Option<String>,
}

impl Bundle {
    /// Creates `dir` with a busybox rootfs and the default spec for container `id`.
    pub fn create(dir: &Path, id: &str, cgroups_path: &str) -> Result<Self> {
        build_busybox_rootfs(&dir.join("rootfs"))?;
        Ok(Self {
            id: id.to_owned(),
            dir: dir.to_path_buf(),
            spec: default_spec(cgroups_path)?,
            raw_config: None,
        })
    }

    /// The container id this bundle is meant for.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bundle directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The rootfs directory.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The spec, for tweaks the helpers below do not cover.
    pub fn spec_mut(&mut self) -> &mut Spec {
        &mut self.spec
    }

    /// The spec's `linux.cgroupsPath`.
    pub fn cgroups_path(&self) -> String {
        self.spec
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().as_ref())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn process(&mut self) -> &mut Process {
        self.spec.process_mut().get_or_insert_with(Process::default)
    }

    fn linux(&mut self) -> &mut Linux {
        self.spec.linux_mut().get_or_insert_with(Linux::default)
    }

    fn resources(&mut self) -> &mut LinuxResources {
        self.linux()
            .resources_mut()
            .get_or_insert_with(LinuxResources::default)
    }

    /// Sets `process.args`.
    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.process()
            .set_args(Some(args.iter().map(|a| a.to_string()).collect()));
        self
    }

    /// Runs `script` with `sh -c`.
    pub fn shell(&mut self, script: &str) -> &mut Self {
        self.args(&["sh", "-c", script])
    }

    /// Adds `KEY=VALUE` to `process.env`.
    pub fn env(&mut self, entry: &str) -> &mut Self {
        let process = self.process();
        let mut env = process.env().clone().unwrap_or_default();
        env.push(entry.to_owned());
        process.set_env(Some(env));
        self
    }

    /// Sets `process.cwd`.
    pub fn cwd(&mut self, cwd: &str) -> &mut Self {
        self.process().set_cwd(PathBuf::from(cwd));
        self
    }

    /// Sets `process.terminal`.
    pub fn terminal(&mut self, on: bool) -> &mut Self {
        self.process().set_terminal(Some(on));
        self
    }

    /// Sets `process.noNewPrivileges`.
    pub fn no_new_privileges(&mut self, on: bool) -> &mut Self {
        self.process().set_no_new_privileges(Some(on));
        self
    }

    /// Sets `hostname`.
    pub fn hostname(&mut self, name: &str) -> &mut Self {
        self.spec.set_hostname(Some(name.to_owned()));
        self
    }

    /// Adds an annotation.
    pub fn annotation(&mut self, key: &str, value: &str) -> &mut Self {
        let annotations = self.spec.annotations_mut().get_or_insert_with(HashMap::new);
        annotations.insert(key.to_owned(), value.to_owned());
        self
    }

    /// Sets the memory limit and the memory+swap limit, in bytes.
    pub fn memory(&mut self, limit: i64, swap: i64) -> Result<&mut Self> {
        let memory = LinuxMemoryBuilder::default()
            .limit(limit)
            .swap(swap)
            .build()?;
        self.resources().set_memory(Some(memory));
        Ok(self)
    }

    /// Sets the pids limit.
    pub fn pids_limit(&mut self, limit: i64) -> Result<&mut Self> {
        let pids = LinuxPidsBuilder::default().limit(limit).build()?;
        self.resources().set_pids(Some(pids));
        Ok(self)
    }

    /// Appends a mount.
    pub fn mount(&mut self, mount: Mount) -> &mut Self {
        self.spec
            .mounts_mut()
            .get_or_insert_with(Vec::new)
            .push(mount);
        self
    }

    /// Edits the JSON form of the spec, for configs oci-spec's types cannot hold.
    pub fn edit_json(&mut self, edit: impl FnOnce(&mut Value)) -> Result<&mut Self> {
        let mut value = match &self.raw_config {
            Some(raw) => serde_json::from_str(raw),
            None => serde_json::to_value(&self.spec),
        }
        .map_err(FixtureError::json("turning the spec into JSON"))?;
        edit(&mut value);
        let text = serde_json::to_string_pretty(&value)
            .map_err(FixtureError::json("serialising the edited spec"))?;
        Ok(self.raw_config(&text))
    }

    /// Writes `text` verbatim as `config.json` instead of the spec.
    pub fn raw_config(&mut self, text: &str) -> &mut Self {
        self.raw_config = Some(text.to_owned());
        self
    }

    /// Writes `config.json`.
    pub fn write(&self) -> Result<()> {
        let text = match &self.raw_config {
            Some(raw) => raw.clone(),
            None => serde_json::to_string_pretty(&self.spec)
                .map_err(FixtureError::json("serialising the spec"))?,
        };
        let path = self.dir.join("config.json");
        fs::write(&path, text).map_err(FixtureError::io(format!("writing {}", path.display())))
    }
}
