//! Container state on disk: one directory per container under the runtime root, holding the
//! record (`state.json`), a copy of the spec (`config.json`) and, until `start`, `exec.fifo`.

use chrono::{DateTime, Utc};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use crate::cgroups::ContainerCgroup;
use crate::error::{Context, Result, RuntimeError};
use crate::fsutil::write_atomic;
use crate::id::validate_id;
use crate::procfs::is_alive;

const RECORD_FILE: &str = "state.json";
const SPEC_FILE: &str = "config.json";
const FIFO_FILE: &str = "exec.fifo";

/// The OCI lifecycle states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn can_start(self) -> bool {
        self == Status::Created
    }
    pub fn can_kill(self) -> bool {
        matches!(self, Status::Created | Status::Running | Status::Paused)
    }
    /// Only stopped containers: the OCI spec makes deleting a created one an error too
    /// (`--force` still removes any container).
    pub fn can_delete(self) -> bool {
        self == Status::Stopped
    }
    pub fn can_pause(self) -> bool {
        self == Status::Running
    }
    pub fn can_resume(self) -> bool {
        self == Status::Paused
    }
    pub fn can_exec(self) -> bool {
        matches!(self, Status::Created | Status::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the runtime remembers about a created container.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    /// Host pid of the container's init.
    pub pid: i32,
    /// Start time of the init, so a recycled pid is never mistaken for it.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub cgroup_path: PathBuf,
    pub created: DateTime<Utc>,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
}

impl Record {
    /// The OCI state of this container in `status`.
    pub fn oci_state(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: crate::OCI_VERSION,
            id: &self.id,
            status: status.as_str(),
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: &self.bundle,
            rootfs: &self.rootfs,
            created: self.created,
            annotations: &self.annotations,
        }
    }

    /// The OCI state as JSON, as hooks receive it on stdin.
    pub fn state_json(&self, status: Status) -> Vec<u8> {
        // Serialising plain strings, numbers and a map cannot fail.
        serde_json::to_vec(&self.oci_state(status)).unwrap_or_default()
    }
}

/// The state JSON that `state` prints, as the OCI runtime spec defines it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'static str,
    pub id: &'a str,
    pub status: &'static str,
    pub pid: i32,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: DateTime<Utc>,
    pub annotations: &'a HashMap<String, String>,
}

/// A container found in the state store.
#[derive(Debug)]
pub struct Container {
    pub dir: PathBuf,
    pub record: Record,
}

impl Container {
    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join(FIFO_FILE)
    }

    pub fn cgroup(&self) -> Result<ContainerCgroup> {
        Ok(ContainerCgroup::open(&self.record.cgroup_path, self.id())?)
    }

    /// The spec as it was when the container was created.
    pub fn spec(&self) -> Result<Spec> {
        let path = self.dir.join(SPEC_FILE);
        Spec::load(&path).map_err(|e| RuntimeError::Io {
            context: format!("reading {}", path.display()),
            source: io::Error::other(e.to_string()),
        })
    }

    pub fn is_alive(&self) -> bool {
        is_alive(self.record.pid, self.record.init_start_time)
    }

    /// Derives the live status from the init process, the fifo and the freezer.
    pub fn status(&self) -> Status {
        if !self.is_alive() {
            return Status::Stopped;
        }
        if self.fifo_path().exists() {
            return Status::Created;
        }
        match self.cgroup().and_then(|cg| Ok(cg.is_frozen()?)) {
            Ok(true) => Status::Paused,
            _ => Status::Running,
        }
    }

    /// Fails with a clear error unless `allowed(status)` holds.
    pub fn require(&self, action: &'static str, allowed: fn(Status) -> bool) -> Result<Status> {
        let status = self.status();
        if allowed(status) {
            Ok(status)
        } else {
            Err(RuntimeError::WrongState {
                id: self.id().to_owned(),
                action,
                status: status.to_string(),
            })
        }
    }
}

/// The directory of all containers' state (`--root`).
#[derive(Debug, Clone)]
pub struct StateStore {
    root: PathBuf,
}

impl StateStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StateStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        Ok(self.root.join(id))
    }

    /// Claims `id` by creating its directory; the returned guard removes it again unless
    /// the creation is committed.
    pub fn reserve(&self, id: &str) -> Result<Reservation> {
        let dir = self.dir(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .context(|| format!("creating state root {}", self.root.display()))?;
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => Ok(Reservation {
                dir,
                committed: false,
            }),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(RuntimeError::AlreadyExists(id.to_owned()))
            }
            Err(e) => Err(e).context(|| format!("creating {}", dir.display())),
        }
    }

    pub fn load(&self, id: &str) -> Result<Container> {
        let dir = self.dir(id)?;
        let data = match fs::read(dir.join(RECORD_FILE)) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(RuntimeError::NotFound(id.to_owned()))
            }
            Err(e) => return Err(e).context(|| format!("reading state of {id:?}")),
        };
        let record = serde_json::from_slice(&data).map_err(|e| RuntimeError::Io {
            context: format!("corrupt state of {id:?}"),
            source: io::Error::other(e),
        })?;
        Ok(Container { dir, record })
    }

    /// All containers with a committed record, sorted by id.
    pub fn list(&self) -> Result<Vec<Container>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).context(|| format!("listing {}", self.root.display())),
        };
        let mut containers: Vec<Container> = entries
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter_map(|id| self.load(&id).ok())
            .collect();
        containers.sort_by(|a, b| a.record.id.cmp(&b.record.id));
        Ok(containers)
    }
}

/// A claimed, not yet committed container directory.
#[derive(Debug)]
pub struct Reservation {
    dir: PathBuf,
    committed: bool,
}

impl Reservation {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join(FIFO_FILE)
    }

    pub fn save_spec(&self, spec: &Spec) -> Result<()> {
        let data = serde_json::to_vec(spec).map_err(|e| RuntimeError::Io {
            context: "serializing spec".into(),
            source: io::Error::other(e),
        })?;
        write_atomic(&self.dir.join(SPEC_FILE), &data).context(|| "saving spec".into())
    }

    /// Writes the record, which makes the container visible, and keeps the directory.
    pub fn commit(mut self, record: Record) -> Result<Container> {
        save_record(&self.dir, &record)?;
        self.committed = true;
        Ok(Container {
            dir: self.dir.clone(),
            record,
        })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn save_record(dir: &Path, record: &Record) -> Result<()> {
    let data = serde_json::to_vec(record).map_err(|e| RuntimeError::Io {
        context: "serializing state".into(),
        source: io::Error::other(e),
    })?;
    write_atomic(&dir.join(RECORD_FILE), &data).context(|| "saving state".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservation_is_exclusive_and_rolled_back() {
        let root = tempfile::tempdir().unwrap();
        let store = StateStore::new(root.path().join("state"));
        let first = store.reserve("c1").unwrap();
        assert!(matches!(
            store.reserve("c1"),
            Err(RuntimeError::AlreadyExists(_))
        ));
        drop(first);
        assert!(!root.path().join("state/c1").exists());
        assert!(matches!(store.load("c1"), Err(RuntimeError::NotFound(_))));
    }

    #[test]
    fn rejects_bad_ids_before_touching_disk() {
        let root = tempfile::tempdir().unwrap();
        let store = StateStore::new(root.path());
        assert!(matches!(
            store.reserve("../x"),
            Err(RuntimeError::InvalidId { .. })
        ));
        assert!(matches!(
            store.load("a/b"),
            Err(RuntimeError::InvalidId { .. })
        ));
    }

    #[test]
    fn guards_follow_the_lifecycle() {
        assert!(Status::Created.can_start());
        assert!(!Status::Running.can_start());
        assert!(!Status::Running.can_delete());
        assert!(Status::Stopped.can_delete());
        assert!(!Status::Created.can_delete());
        assert!(Status::Running.can_pause() && Status::Paused.can_resume());
        assert!(!Status::Stopped.can_kill());
    }
}
