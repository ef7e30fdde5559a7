//! The container's cgroup: where it lives, its resource limits and device list, pause/resume,
//! and its removal. Works on cgroup v1 (legacy and hybrid hosts) and v2.
//!
//! youki's libcgroups applies the resource limits and freezes. Berth keeps the rest: finding the
//! hierarchies (one read instead of libcgroups' per-controller lookups), the device allow list,
//! dropping limits the kernel lacks, joining exec'd processes, and removal.

mod devices;
mod hierarchy;
mod limits;
mod path;
mod teardown;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use libcgroups::common::{
    AnyCgroupManager, AnyManagerError, CgroupManager, ControllerOpt, FreezerState,
    GetCgroupSetupError, WrappedIoError, CGROUP_PROCS,
};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

pub use devices::device_rule;
use hierarchy::Hierarchy;

/// Why a cgroup operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("invalid cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: PathBuf, reason: &'static str },
    #[error("container id {0:?} cannot name a cgroup")]
    InvalidId(String),
    #[error("invalid device cgroup rule \"{rule}\": {reason}")]
    InvalidDeviceRule { rule: String, reason: &'static str },
    #[error("invalid linux.resources: {0}")]
    InvalidResource(String),
    #[error("cannot tell how cgroups are mounted: {0}")]
    Setup(#[from] GetCgroupSetupError),
    #[error("cannot read {path}: {source}")]
    ReadProc {
        path: &'static str,
        source: std::io::Error,
    },
    #[error("no cgroup v1 hierarchy is mounted")]
    NoHierarchy,
    #[error("cannot place a relative cgroupsPath: {0}")]
    NoParent(String),
    #[error("the {0} cgroup controller is not mounted")]
    MissingController(&'static str),
    #[error("cgroup {0} does not exist")]
    NotFound(PathBuf),
    #[error("cgroup {path}: cannot {op}: {source}")]
    Manager {
        path: PathBuf,
        op: &'static str,
        source: AnyManagerError,
    },
    #[error(transparent)]
    Io(#[from] WrappedIoError),
    #[error("cannot compile the device rules: {0}")]
    DeviceProgram(#[from] libcgroups::v2::devices::program::ProgramError),
    #[error("cannot {op} the cgroup: {source}")]
    Bpf {
        op: &'static str,
        source: libcgroups::v2::devices::bpf::BpfError,
    },
    #[error("cgroup {path} still has processes after {waited:?}")]
    Busy {
        path: PathBuf,
        waited: std::time::Duration,
    },
}

/// One container's cgroup, the same path in every hierarchy.
#[derive(Debug)]
pub struct ContainerCgroup {
    /// Absolute, relative to the cgroup root, never the root itself.
    path: PathBuf,
    id: String,
    hierarchy: Hierarchy,
}

impl ContainerCgroup {
    /// Resolve the container's cgroup from `linux.cgroupsPath`. Absolute paths are relative to
    /// the cgroup root; relative ones are placed under the runtime's own cgroup (as runc does);
    /// `None` means `berth/<id>` (relative). Nothing is created yet.
    pub fn new(cgroups_path: Option<&Path>, id: &str) -> Result<Self, CgroupError> {
        let hierarchy = Hierarchy::detect()?;
        Self::resolve(hierarchy, cgroups_path, id)
    }

    /// Reopen from the path recorded in the container state (for pause/resume/ps/delete/exec).
    pub fn open(path: &Path, id: &str) -> Result<Self, CgroupError> {
        path::check_stored(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            id: id.to_owned(),
            hierarchy: Hierarchy::detect()?,
        })
    }

    fn resolve(
        hierarchy: Hierarchy,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Self, CgroupError> {
        let path = path::resolve(cgroups_path, id, || hierarchy.parent_for_relative())?;
        Ok(Self {
            path,
            id: id.to_owned(),
            hierarchy,
        })
    }

    /// The resolved path to store in the state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Create the cgroup, apply `linux.resources`, and move `pid` into it. The request is
    /// checked before anything is created; if a later step fails, the caller removes the
    /// partly made cgroup with [`ContainerCgroup::remove`].
    pub fn apply(&self, pid: Pid, resources: Option<&LinuxResources>) -> Result<(), CgroupError> {
        let requested = resources.cloned().unwrap_or_default();
        limits::check(&requested, &self.hierarchy)?;
        let device_rules = devices::rules(requested.devices().as_deref().unwrap_or_default())?;

        let manager = self.manager()?;
        manager
            .add_task(pid)
            .map_err(|source| self.manager_error("create it and move the process in", source))?;
        self.set_limits(&manager, &requested)?;

        match self.hierarchy {
            Hierarchy::V1(_) => devices::apply_v1(&self.dir("devices")?, &device_rules)?,
            Hierarchy::V2 { .. } => devices::apply_v2(&self.dir("devices")?, &device_rules)?,
        }
        tracing::debug!(id = %self.id, path = %self.path.display(), %pid, "cgroup applied");
        Ok(())
    }

    /// Changes the limits of the existing cgroup to those set in `resources`; limits left
    /// unset stay as they are. The device list cannot change this way.
    pub fn update(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        limits::check(resources, &self.hierarchy)?;
        if resources.devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return Err(CgroupError::InvalidResource(
                "the device list of a created container cannot be updated".into(),
            ));
        }
        self.existing_freezer_dir()?;
        self.set_limits(&self.manager()?, resources)
    }

    /// Writes every limit of `requested` but the device list.
    fn set_limits(
        &self,
        manager: &AnyCgroupManager,
        requested: &LinuxResources,
    ) -> Result<(), CgroupError> {
        let supported = limits::supported(requested, self);
        let disable_oom_killer = requested
            .memory()
            .as_ref()
            .and_then(|m| m.disable_oom_killer())
            .unwrap_or(false);
        let options = ControllerOpt {
            resources: &supported,
            disable_oom_killer,
            oom_score_adj: None,
            freezer_state: None,
        };
        match manager.apply(&options) {
            Ok(()) => {}
            // The resource limits are in place by then; Berth loads its own device program,
            // which needs no RLIMIT_MEMLOCK on Linux 5.11 and later.
            Err(err) if libcgroups_could_not_raise_memlock(&err) => {
                tracing::debug!("libcgroups could not raise RLIMIT_MEMLOCK for its device program");
            }
            Err(source) => return Err(self.manager_error("apply the resource limits", source)),
        }
        if let Hierarchy::V2 { .. } = self.hierarchy {
            let dir = self.dir("devices")?;
            limits::write_unified(&dir, requested)?;
            limits::write_io_weight(&dir, requested, self)?;
        }
        Ok(())
    }

    /// Move another process (an `exec`ed one) into the cgroup.
    pub fn add_task(&self, pid: Pid) -> Result<(), CgroupError> {
        let dirs: Vec<PathBuf> = self
            .hierarchy
            .dirs(&self.path)
            .into_iter()
            .filter(|d| d.exists())
            .collect();
        if dirs.is_empty() {
            return Err(CgroupError::NotFound(self.path.clone()));
        }
        for dir in dirs {
            libcgroups::common::write_cgroup_file(dir.join(CGROUP_PROCS), pid)?;
        }
        Ok(())
    }

    /// Freeze every process in the cgroup; returns once they are frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set_freezer(FreezerState::Frozen)
    }

    /// Let a frozen cgroup run again.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set_freezer(FreezerState::Thawed)
    }

    /// Whether the cgroup is frozen (a cgroup still freezing is not).
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        let dir = self.existing_freezer_dir()?;
        Ok(match self.hierarchy {
            Hierarchy::V1(_) => {
                libcgroups::common::read_cgroup_file(dir.join("freezer.state"))?.trim() == "FROZEN"
            }
            Hierarchy::V2 { .. } => {
                libcgroups::common::read_cgroup_file(dir.join("cgroup.events"))?
                    .lines()
                    .any(|l| l == "frozen 1")
            }
        })
    }

    /// All pids in the cgroup and its child cgroups (host pid namespace).
    pub fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        let dir = self.existing_freezer_dir()?;
        Ok(libcgroups::common::get_all_pids(&dir)?)
    }

    /// Remove the cgroup from every hierarchy, killing any process left in it (a frozen cgroup
    /// is thawed so they can die). Idempotent: a missing cgroup is fine.
    pub fn remove(&self) -> Result<(), CgroupError> {
        let busy = teardown::remove_idle(self.hierarchy.dirs(&self.path))?;
        if busy.is_empty() {
            return Ok(());
        }
        tracing::debug!(id = %self.id, path = %self.path.display(), "killing leftover processes");
        self.kill_all(&busy)?;
        teardown::remove_trees(&busy)
    }

    /// Kills every process in the busy directories.
    fn kill_all(&self, busy: &[PathBuf]) -> Result<(), CgroupError> {
        if let Hierarchy::V2 { .. } = self.hierarchy {
            // cgroup.kill (Linux 5.14) kills the whole subtree at once, frozen or not.
            let kill_file = busy
                .iter()
                .map(|d| d.join("cgroup.kill"))
                .find(|f| f.exists());
            if let Some(kill_file) = kill_file {
                return Ok(libcgroups::common::write_cgroup_file_str(kill_file, "1")?);
            }
        }
        // Freeze first so that nothing forks while being killed, as runc does; frozen v1
        // processes only die once thawed, so always thaw afterwards.
        let freezer = self.hierarchy.dir_of("freezer", &self.path);
        let can_freeze = freezer.is_some_and(|d| busy.contains(&d));
        if can_freeze {
            if let Err(err) = self.freeze() {
                tracing::warn!(
                    "cannot freeze {} before killing: {err}",
                    self.path.display()
                );
            }
        }
        let killed = teardown::kill_listed(busy);
        if can_freeze {
            self.thaw()?;
        }
        killed
    }

    fn set_freezer(&self, state: FreezerState) -> Result<(), CgroupError> {
        // libcgroups' v1 freezer would recreate a missing directory.
        self.existing_freezer_dir()?;
        let op = match state {
            FreezerState::Frozen => "freeze",
            _ => "thaw",
        };
        self.manager()?
            .freeze(state)
            .map_err(|source| self.manager_error(op, source))
    }

    /// The directory of the cgroup in `controller`'s hierarchy (v2: the one directory).
    fn dir(&self, controller: &'static str) -> Result<PathBuf, CgroupError> {
        self.hierarchy
            .dir_of(controller, &self.path)
            .ok_or(CgroupError::MissingController(controller))
    }

    /// The freezer directory (v2: the cgroup's), which must exist.
    fn existing_freezer_dir(&self) -> Result<PathBuf, CgroupError> {
        let dir = self.dir("freezer")?;
        if !dir.exists() {
            return Err(CgroupError::NotFound(self.path.clone()));
        }
        Ok(dir)
    }

    /// A libcgroups manager for this cgroup. On v1 this costs about 0.5 ms (libcgroups looks
    /// up each controller's mount in mountinfo), so only limit-setting and freezing use one.
    fn manager(&self) -> Result<AnyCgroupManager, CgroupError> {
        let manager = match &self.hierarchy {
            Hierarchy::V1(_) => libcgroups::v1::manager::Manager::new(&self.path)
                .map(|m| m.any())
                .map_err(AnyManagerError::from),
            Hierarchy::V2 { root } => {
                libcgroups::v2::manager::Manager::new(root.clone(), self.path.clone())
                    .map(|m| m.any())
                    .map_err(AnyManagerError::from)
            }
        };
        manager.map_err(|source| self.manager_error("find its hierarchies", source))
    }

    fn manager_error(&self, op: &'static str, source: AnyManagerError) -> CgroupError {
        CgroupError::Manager {
            path: self.path.clone(),
            op,
            source,
        }
    }
}

/// libcgroups' v2 apply raises RLIMIT_MEMLOCK unconditionally before loading its device
/// program, which fails without CAP_SYS_RESOURCE; it has applied every resource limit by then.
fn libcgroups_could_not_raise_memlock(err: &AnyManagerError) -> bool {
    use libcgroups::v2::devices::bpf::BpfError;
    use libcgroups::v2::devices::controller::DevicesControllerError;
    use libcgroups::v2::manager::V2ManagerError;
    matches!(
        err,
        AnyManagerError::V2(V2ManagerError::DevicesController(
            DevicesControllerError::Bpf(BpfError::FailedToIncreaseRLimit)
        ))
    )
}

impl limits::KernelSupport for ContainerCgroup {
    fn has_file(&self, controller: &str, file: &str) -> bool {
        self.hierarchy
            .dir_of(controller, &self.path)
            .is_some_and(|dir| dir.join(file).exists())
    }

    fn has_controller(&self, controller: &str) -> bool {
        let Some(dir) = self.hierarchy.dir_of(controller, &self.path) else {
            return false;
        };
        match self.hierarchy {
            Hierarchy::V1(_) => true,
            Hierarchy::V2 { .. } => {
                libcgroups::common::read_cgroup_file(dir.join("cgroup.controllers"))
                    .is_ok_and(|list| list.split_whitespace().any(|c| c == controller))
            }
        }
    }
}
