//! berth-runtime: turns an OCI bundle (`config.json` plus a root filesystem) into an
//! isolated process tree, with a runc-compatible command line on top.
//!
//! The API mirrors the OCI lifecycle. A [`Runtime`] owns a state directory; [`Runtime::create`]
//! sets a container up and leaves its init blocked, [`Runtime::start`] releases it,
//! [`Runtime::delete`] removes every trace. The calling process must be single-threaded:
//! the runtime forks.
//!
//! ```no_run
//! use berth_runtime::{CreateOptions, Runtime};
//!
//! # fn main() -> Result<(), berth_runtime::RuntimeError> {
//! let runtime = Runtime::new("/run/berth/runtime");
//! let opts = CreateOptions {
//!     bundle: "/var/lib/berth/containers/web/bundle".into(),
//!     ..CreateOptions::default()
//! };
//! let container = runtime.create("web", &opts)?; // init waits, blocked on its exec fifo
//! runtime.start("web")?; // the user's process runs
//! println!("init pid {}", container.record.pid);
//! // ... later, once it exited (or with `force` to kill it first):
//! runtime.delete("web", true)?;
//! # Ok(())
//! # }
//! ```

mod bundle;
pub mod cgroups;
mod console;
mod control;
pub mod error;
mod exec;
pub mod features;
pub mod fsutil;
mod hooks;
mod id;
mod init;
mod lifecycle;
mod loopback;
mod namespaces;
pub mod pid1;
mod process;
pub mod procfs;
pub mod rootfs;
mod sched;
pub mod seal;
pub mod seccomp;
pub mod signal;
mod spawn;
pub mod spec;
pub mod state;
mod sync;
mod sys;
mod tty;
mod wait;

use nix::unistd::Pid;
use std::path::{Path, PathBuf};

pub use error::{Result, RuntimeError};
pub use exec::ExecOptions;
pub use lifecycle::CreateOptions;
pub use state::{Container, Status};

/// The OCI runtime spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";

/// Default state directory, as `--root`.
pub const DEFAULT_ROOT: &str = "/run/berth-runtime";

/// A runtime bound to one state directory.
#[derive(Debug, Clone)]
pub struct Runtime {
    store: state::StateStore,
}

impl Runtime {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Runtime {
            store: state::StateStore::new(root),
        }
    }

    pub fn root(&self) -> &Path {
        self.store.root()
    }
}

fn write_pid_file(path: &Path, pid: Pid) -> Result<()> {
    use error::Context;
    let path = std::path::absolute(path).context(|| format!("pid file {}", path.display()))?;
    fsutil::write_atomic(&path, pid.to_string().as_bytes())
        .context(|| format!("writing pid file {}", path.display()))
}
