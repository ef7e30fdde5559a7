//! OCI hooks: each hook runs with the container state JSON on its stdin, and fails the
//! operation when it exits non-zero or outlives its timeout.

use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::error::{Result, RuntimeError};

/// Runs `hooks` in order, stopping at the first failure.
pub fn run_hooks(kind: &'static str, hooks: Option<&Vec<Hook>>, state: &[u8]) -> Result<()> {
    for hook in hooks.into_iter().flatten() {
        run_hook(kind, hook, state)?;
    }
    Ok(())
}

/// Runs hooks whose failure can no longer change the outcome (poststart, poststop): the
/// container already runs or is gone, so failures are logged instead of returned.
pub fn run_hooks_logged(kind: &'static str, hooks: Option<&Vec<Hook>>, state: &[u8]) {
    if let Err(err) = run_hooks(kind, hooks, state) {
        tracing::warn!("{err}");
    }
}

fn run_hook(kind: &'static str, hook: &Hook, state: &[u8]) -> Result<()> {
    let fail = |reason: String| RuntimeError::Hook {
        kind,
        path: hook.path().clone(),
        reason,
    };
    let mut cmd = Command::new(hook.path());
    if let Some((arg0, rest)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that ignores its input may close stdin early; that is not a failure.
        let _ = stdin.write_all(state);
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t.unsigned_abs()));
    let mut pause = Duration::from_micros(200);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            break status;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!(
                "timed out after {}s",
                hook.timeout().unwrap_or_default()
            )));
        }
        sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    };
    if status.success() {
        Ok(())
    } else {
        Err(fail(format!("exited with {status}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::HookBuilder;

    fn hook(script: &str, timeout: Option<i64>) -> Hook {
        let mut builder = HookBuilder::default().path("/bin/sh").args(vec![
            "sh".to_owned(),
            "-c".to_owned(),
            script.to_owned(),
        ]);
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        builder.build().unwrap()
    }

    #[test]
    fn hook_receives_state_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let hooks = vec![hook(&format!("cat > {}", out.display()), None)];
        run_hooks("poststart", Some(&hooks), b"{\"id\":\"x\"}").unwrap();
        assert_eq!(std::fs::read(out).unwrap(), b"{\"id\":\"x\"}");
    }

    #[test]
    fn failing_and_slow_hooks_are_errors() {
        let failing = vec![hook("exit 3", None)];
        let err = run_hooks("prestart", Some(&failing), b"{}").unwrap_err();
        assert!(err.to_string().contains("prestart hook"), "{err}");
        let slow = vec![hook("sleep 5", Some(1))];
        let err = run_hooks("poststop", Some(&slow), b"{}").unwrap_err();
        assert!(err.to_string().contains("timed out"), "{err}");
    }
}
