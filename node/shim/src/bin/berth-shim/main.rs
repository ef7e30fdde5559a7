//! `berth-shim CONFIG`: one small, single-threaded process per container, detached from
//! berthd. It creates the container through the runtime, reports to its launcher on stdout,
//! then owns the container's stdio, log and exit status and serves its socket until the
//! container is gone. No async runtime: a poll loop does it all.

mod cgroup;
mod conn;
mod driver;
mod events;
mod exec;
mod footprint;
mod mount;
mod requests;
mod shim;
mod stdio;
mod terminal;

use std::fs::{self, File};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use berth_shim::{Launched, Readiness, RuntimeChoice, ShimConfig};
use nix::unistd::{dup2, fork, setsid, ForkResult};
use tracing_subscriber::prelude::*;

use shim::Shim;

fn main() -> ExitCode {
    init_logging();
    let Some(config_path) = std::env::args_os().nth(1) else {
        eprintln!("usage: berth-shim CONFIG.json");
        return ExitCode::from(2);
    };
    let config = match prepare(Path::new(&config_path)) {
        Ok(config) => config,
        Err(err) => return fail(&err),
    };
    match Shim::create(config) {
        Ok(shim) => {
            let launched = Launched {
                shim_pid: std::process::id(),
                container_pid: shim.pid.as_raw().unsigned_abs(),
            };
            report(&Readiness::Launched(launched));
            if let Err(err) = silence_stdio() {
                tracing::warn!("{err:#}");
            }
            shim.run();
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

/// Reads the config, re-executes from a sealed copy when the container will be forked from
/// this process, and detaches from the launcher.
fn prepare(config_path: &Path) -> Result<ShimConfig> {
    let data =
        fs::read(config_path).with_context(|| format!("reading {}", config_path.display()))?;
    let config: ShimConfig = serde_json::from_slice(&data)
        .with_context(|| format!("parsing {}", config_path.display()))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.runtime_root)
        .with_context(|| format!("creating {}", config.runtime_root.display()))?;
    if config.runtime == RuntimeChoice::Builtin {
        // The container's init is forked from us: it must never see a writable /proc/self/exe
        // pointing at the host binary (SECURITY.md 16, CVE-2019-5736).
        berth_runtime::seal::ensure_sealed(&config.runtime_root)?;
    }
    detach()?;
    Ok(config)
}

/// Forks; the parent (the launcher's child) exits at once, so the shim is reparented away
/// from the launcher and survives it. The shim leads its own session and adopts the
/// container's orphaned processes.
fn detach() -> Result<()> {
    // SAFETY: the shim is single-threaded, so the child may run arbitrary code.
    match unsafe { fork() }.context("forking the shim")? {
        // SAFETY: _exit skips destructors; the child owns every resource now.
        ForkResult::Parent { .. } => unsafe { libc::_exit(0) },
        ForkResult::Child => {
            setsid().context("starting a session")?;
            nix::sys::prctl::set_child_subreaper(true).context("becoming a subreaper")?;
            Ok(())
        }
    }
}

/// The one line the launcher waits for.
fn report(readiness: &Readiness) {
    let mut line = serde_json::to_vec(readiness).unwrap_or_default();
    line.push(b'\n');
    let mut stdout = std::io::stdout().lock();
    if stdout
        .write_all(&line)
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::warn!("the launcher is gone; carrying on");
    }
}

fn fail(err: &anyhow::Error) -> ExitCode {
    let message = format!("{err:#}");
    tracing::error!("{message}");
    report(&Readiness::Failed(message));
    ExitCode::FAILURE
}

/// Points stdin and stdout at /dev/null: the launcher's pipe must not stay open. Stderr stays
/// on the shim's log file.
fn silence_stdio() -> Result<()> {
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .context("opening /dev/null")?;
    for fd in [0, 1] {
        dup2(null.as_raw_fd(), fd).context("redirecting stdio")?;
    }
    Ok(())
}

/// Warnings and errors go to stderr, the shim's log file. libcgroups warns about every v1
/// controller a host lacks, so only its errors are kept.
fn init_logging() {
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(tracing::Level::WARN)
        .with_target("libcgroups", tracing::Level::ERROR);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .finish()
        .with(filter)
        .init();
}
