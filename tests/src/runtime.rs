//! Which runtime binary the suite drives: `BERTH_TEST_RUNTIME`, or the workspace's own
//! `berth-runtime` next to the test executable (`target/<profile>/berth-runtime`).

use std::path::{Path, PathBuf};

use crate::error::{FixtureError, Result};

/// Environment variable naming the runtime binary under test (e.g. `/usr/sbin/runc`).
pub const RUNTIME_ENV: &str = "BERTH_TEST_RUNTIME";

/// The runtime under test.
#[derive(Debug, Clone)]
pub struct Runtime {
    binary: PathBuf,
}

impl Runtime {
    /// Finds the runtime: `$BERTH_TEST_RUNTIME` if set, else the built `berth-runtime`.
    pub fn locate() -> Result<Self> {
        let binary = match std::env::var_os(RUNTIME_ENV) {
            Some(path) => PathBuf::from(path),
            None => sibling_binary("berth-runtime")?,
        };
        if !binary.is_file() {
            return Err(FixtureError::RuntimeMissing(binary));
        }
        Ok(Self { binary })
    }

    /// The binary's path.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// Whether this is Berth's own runtime (some checks only make sense for it).
    pub fn is_berth(&self) -> bool {
        self.binary
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("berth"))
    }
}

/// `target/<profile>/NAME`, where the test executable is `target/<profile>/deps/<test>-<hash>`:
/// the workspace's binaries (`berth-runtime`, `berthd`, `berthctl`, `berth-shim`).
pub fn sibling_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(FixtureError::io("finding the test executable"))?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| FixtureError::RuntimeMissing(exe.clone()))?;
    Ok(profile_dir.join(name))
}
