//! TEMPORARY interface stub until the cgroups branch merges.
#![allow(missing_docs, clippy::todo, unused)]
use nix::unistd::Pid;
use std::path::{Path, PathBuf};
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("x")]
    X,
}
#[derive(Debug)]
pub struct ContainerCgroup {
    path: PathBuf,
}
impl ContainerCgroup {
    pub fn new(cgroups_path: Option<&Path>, id: &str) -> Result<Self, CgroupError> {
        Ok(Self {
            path: PathBuf::new(),
        })
    }
    pub fn open(path: &Path, id: &str) -> Result<Self, CgroupError> {
        Ok(Self {
            path: PathBuf::new(),
        })
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
    pub fn apply(
        &self,
        pid: Pid,
        resources: Option<&oci_spec::runtime::LinuxResources>,
    ) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn add_task(&self, pid: Pid) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn freeze(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn thaw(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(false)
    }
    pub fn pids(&self) -> Result<Vec<Pid>, CgroupError> {
        Ok(vec![])
    }
    pub fn remove(&self) -> Result<(), CgroupError> {
        Ok(())
    }
}
