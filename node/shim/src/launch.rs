//! Starting a shim from the (multi-threaded) daemon: it spawns the shim executable, never
//! forks itself. The shim detaches and reports on its stdout, a pipe, once the container is
//! created or creating it failed.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufReadExt;
use tokio::process::Command;

use crate::{Launched, ShimConfig, ShimError};
use berth_runtime::fsutil::write_durably;

/// The file the daemon writes the shim's configuration to, in the bundle.
pub const CONFIG_FILE: &str = "shim.json";

/// Where the shim writes its own diagnostics, in the bundle.
pub const SHIM_LOG_FILE: &str = "shim.log";

/// The one line a shim writes to its launcher.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// The container is created.
    Launched(Launched),
    /// Creating it failed; everything is cleaned up.
    Failed(String),
}

/// Starts a detached shim for `config` and returns once it has created (not started) the
/// container, or with the runtime's error after cleaning up. The config goes to
/// `<bundle>/shim.json`, the shim's own diagnostics to `<bundle>/shim.log`; an exit record
/// left by an earlier run is removed first.
pub async fn launch(shim_binary: &Path, config: &ShimConfig) -> Result<Launched, ShimError> {
    let config_path = config.bundle.join(CONFIG_FILE);
    let json = serde_json::to_vec_pretty(config)
        .map_err(|err| ShimError::Failed(format!("serialising the shim config: {err}")))?;
    let (path, log_path) = (config_path.clone(), config.bundle.join(SHIM_LOG_FILE));
    let exit_file = config.exit_file.clone();
    let shim_log = tokio::task::spawn_blocking(move || -> Result<_, ShimError> {
        // A record from an earlier run must not pass for this one's.
        match std::fs::remove_file(&exit_file) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(ShimError::io(format!("removing {}", exit_file.display()))(
                    err,
                ))
            }
            _ => {}
        }
        write_durably(&path, &json)
            .map_err(ShimError::io(format!("writing {}", path.display())))?;
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(ShimError::io(format!("opening {}", log_path.display())))
    })
    .await
    .map_err(|err| ShimError::Failed(format!("writing the shim config: {err}")))??;

    let mut child = Command::new(shim_binary)
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(shim_log)
        .kill_on_drop(false)
        .spawn()
        .map_err(ShimError::io(format!("running {}", shim_binary.display())))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| ShimError::Failed("the shim's stdout was not captured".into()))?;
    // One line, not the whole stream: the container's init holds a copy of the pipe until
    // it execs, so end of file may come long after the shim has answered.
    let mut line = String::new();
    let read = tokio::io::BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .map_err(ShimError::io("reading the shim's readiness"));
    // The process we spawned exits as soon as it has forked the real shim.
    let status = child
        .wait()
        .await
        .map_err(ShimError::io("waiting for the shim to detach"))?;
    read?;
    match serde_json::from_str::<Readiness>(&line) {
        Ok(Readiness::Launched(launched)) => Ok(launched),
        Ok(Readiness::Failed(message)) => Err(ShimError::Failed(message)),
        Err(_) => {
            remove_stale(&config.socket);
            Err(ShimError::Failed(format!(
                "shim for {} exited ({status}) without reporting; see {}",
                config.id,
                config.bundle.join(SHIM_LOG_FILE).display()
            )))
        }
    }
}

/// A shim that died before answering may leave its socket behind.
fn remove_stale(socket: &PathBuf) {
    let _ = std::fs::remove_file(socket);
}
