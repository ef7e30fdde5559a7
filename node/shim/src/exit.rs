//! The exit record: how the main process ended, written once by the shim and read by the
//! daemon (also after a daemon restart, when the shim is long gone).

use std::fs;
use std::io;
use std::path::Path;

use berth_runtime::fsutil::write_durably;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ShimError;

/// How the main process ended, as the shim records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitRecord {
    /// The exit code, 128+N when killed by signal N.
    pub exit_code: i32,
    /// The kernel's OOM killer killed a process of the container.
    pub oom_killed: bool,
    /// When the process started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
}

impl ExitRecord {
    /// Reads the record a shim wrote, `None` if there is none.
    pub fn read(path: &Path) -> Result<Option<Self>, ShimError> {
        let data = match fs::read(path) {
            Ok(data) => data,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(ShimError::io(format!("reading {}", path.display()))(err)),
        };
        serde_json::from_slice(&data).map(Some).map_err(|err| {
            ShimError::Failed(format!("exit record {} is corrupt: {err}", path.display()))
        })
    }

    /// Writes the record atomically and durably: temp file, fsync, rename, fsync of the
    /// directory. A crash leaves either no record or the whole one.
    pub fn write(&self, path: &Path) -> Result<(), ShimError> {
        let context = || format!("writing {}", path.display());
        let json = serde_json::to_vec(self)
            .map_err(|err| ShimError::Failed(format!("{}: {err}", context())))?;
        write_durably(path, &json).map_err(|err| ShimError::io(context())(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exit.json");
        assert_eq!(ExitRecord::read(&path).unwrap(), None);
        let record = ExitRecord {
            exit_code: 137,
            oom_killed: true,
            started_at: Some(Utc::now()),
            finished_at: Utc::now(),
        };
        record.write(&path).unwrap();
        assert_eq!(ExitRecord::read(&path).unwrap(), Some(record));
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temp file left"
        );
        fs::write(&path, b"{\"exit_code\":").unwrap();
        assert!(matches!(ExitRecord::read(&path), Err(ShimError::Failed(_))));
    }
}
