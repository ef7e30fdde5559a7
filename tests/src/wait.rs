//! Polling with a deadline, for state that changes asynchronously (container status, files a
//! container writes). Deadlines are generous: timing is the benchmark's job.

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::{FixtureError, Result};

/// How long the tests wait for a container to reach a state.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Calls `probe` every 20ms until it yields a value, or fails after `timeout` naming `what`.
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl FnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe()? {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(FixtureError::Unexpected(format!(
                "timed out after {}s waiting for {what}",
                timeout.as_secs()
            )));
        }
        sleep(Duration::from_millis(20));
    }
}

/// Waits until `path` exists with non-empty content, and returns the content.
pub fn wait_for_file(path: &Path, timeout: Duration) -> Result<String> {
    wait_until(timeout, &format!("{}", path.display()), || {
        Ok(fs::read_to_string(path).ok().filter(|s| !s.is_empty()))
    })
}
