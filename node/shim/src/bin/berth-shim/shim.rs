//! The shim's state and its two ends: creating the container (undoing everything if that
//! fails) and finishing once the main process has exited.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use berth_runtime::Runtime;
use berth_shim::logs::LogWriter;
use berth_shim::{ExitRecord, RuntimeChoice, ShimConfig, ShimStatus};
use chrono::{DateTime, Utc};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::stat::{umask, Mode};
use nix::unistd::Pid;

use crate::cgroup::CgroupFiles;
use crate::conn::{Conn, Role};
use crate::driver::Driver;
use crate::exec::ExecSession;
use crate::mount;
use crate::stdio::{self, Input, Output};
use crate::terminal::ConsoleSocket;

/// How long the shim keeps serving once the container is gone, for clients still being sent
/// their last frames.
const LINGER: Duration = Duration::from_secs(10);

pub struct Shim {
    pub config: ShimConfig,
    pub driver: Driver,
    /// The container's init.
    pub pid: Pid,
    pub status: ShimStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub exit: Option<ExitRecord>,
    /// The main process's exit code, reaped but not yet recorded.
    pub main_exit: Option<i32>,
    pub input: Option<Input>,
    pub outputs: Vec<Output>,
    pub log: LogWriter,
    pub cgroup: CgroupFiles,
    pub signals: SignalFd,
    pub listener: Option<UnixListener>,
    pub conns: BTreeMap<u64, Conn>,
    pub next_conn: u64,
    pub execs: Vec<ExecSession>,
    pub next_exec: u64,
    /// Set once finished: serve remaining clients until then.
    pub deadline: Option<Instant>,
    /// Scratch space for reads.
    pub buf: Vec<u8>,
}

/// What `create` has done so far, to undo on failure.
#[derive(Default)]
struct Progress {
    mounted: bool,
    socket: bool,
    container: bool,
}

impl Shim {
    /// Creates the container (not started) and everything around it. On failure nothing is
    /// left behind: no runtime container, no rootfs mount of ours, no socket.
    pub fn create(config: ShimConfig) -> Result<Shim> {
        let driver = match &config.runtime {
            RuntimeChoice::Builtin => Driver::Builtin(Runtime::new(&config.runtime_root)),
            RuntimeChoice::Binary(path) => Driver::Binary {
                path: path.clone(),
                root: config.runtime_root.clone(),
            },
        };
        let mut progress = Progress::default();
        match Self::try_create(&config, &driver, &mut progress) {
            Ok(parts) => Ok(Shim::assemble(config, driver, parts)),
            Err(err) => {
                if progress.container {
                    if let Err(err) = driver.delete(&config.id) {
                        tracing::warn!("removing the half-created container: {err:#}");
                    }
                }
                if progress.mounted {
                    if let Some(rootfs) = &config.rootfs {
                        if let Err(err) = mount::unmount(&rootfs.target) {
                            tracing::warn!("{err:#}");
                        }
                    }
                }
                if progress.socket {
                    let _ = fs::remove_file(&config.socket);
                }
                Err(err)
            }
        }
    }

    fn try_create(config: &ShimConfig, driver: &Driver, progress: &mut Progress) -> Result<Parts> {
        let signals = child_signals()?;
        if let Some(rootfs) = &config.rootfs {
            progress.mounted = mount::ensure_mounted(rootfs)?;
        }
        let listener = bind_socket(&config.socket)?;
        progress.socket = true;
        let log = LogWriter::open(&config.log)
            .with_context(|| format!("opening the log {}", config.log.path.display()))?;
        progress.container = true;
        let (pid, input, outputs) = if config.tty {
            let console = ConsoleSocket::bind(&sibling(&config.socket, "tty"))?;
            let null = stdio::null_stdio()?;
            let pid = driver.create(&config.id, &config.bundle, &null, Some(console.path()))?;
            let (input, output) = stdio::terminal(console.receive_master()?)?;
            (pid, Some(input), vec![output])
        } else {
            let stdio = stdio::pipes(config.open_stdin)?;
            let pid = driver.create(&config.id, &config.bundle, &stdio.process, None)?;
            // Dropping stdio.process closes our copies of the container's ends.
            (pid, stdio.input, stdio.outputs)
        };
        let cgroup = CgroupFiles::of_process(pid)?;
        Ok(Parts {
            pid,
            input,
            outputs,
            log,
            cgroup,
            signals,
            listener,
        })
    }

    fn assemble(config: ShimConfig, driver: Driver, parts: Parts) -> Shim {
        Shim {
            config,
            driver,
            pid: parts.pid,
            status: ShimStatus::Created,
            started_at: None,
            exit: None,
            main_exit: None,
            input: parts.input,
            outputs: parts.outputs,
            log: parts.log,
            cgroup: parts.cgroup,
            signals: parts.signals,
            listener: Some(parts.listener),
            conns: BTreeMap::new(),
            next_conn: 0,
            execs: Vec::new(),
            next_exec: 0,
            deadline: None,
            buf: vec![0u8; 32 * 1024],
        }
    }

    /// The main process exited with `code`: log its last output, record the exit, remove the
    /// container and its rootfs mount, stop listening, and tell the clients.
    pub fn finish(&mut self, code: i32) {
        let finished_at = Utc::now();
        self.drain_main_outputs();
        // Read before the cgroup goes away with the container.
        let oom_killed = self.cgroup.oom_kills() > 0;
        if let Err(err) = self.driver.delete(&self.config.id) {
            tracing::warn!("deleting container {}: {err:#}", self.config.id);
        }
        // Everything in the container is dead now, so this reaches the end of the output.
        self.drain_main_outputs();
        self.outputs.clear();
        self.input = None;
        if let Err(err) = self.log.flush_partial(Utc::now()) {
            tracing::warn!("writing the log: {err}");
        }
        if let Some(rootfs) = &self.config.rootfs {
            if let Err(err) = mount::unmount(&rootfs.target) {
                tracing::warn!("{err:#}");
            }
        }
        let record = ExitRecord {
            exit_code: code,
            oom_killed,
            started_at: self.started_at,
            finished_at,
        };
        if let Err(err) = record.write(&self.config.exit_file) {
            tracing::error!("{err}");
        }
        // Clients already connecting are served (a `wait` gets the record at once); then the
        // socket goes, before anyone hears of the exit: a new shim for the same container
        // may bind the same path as soon as they do.
        self.accept();
        self.listener = None;
        let _ = fs::remove_file(&self.config.socket);
        self.status = ShimStatus::Exited;
        for conn in self.conns.values_mut() {
            match conn.role {
                Role::Waiting => {
                    conn.send_reply(&Ok(berth_shim::protocol::Payload::Exit(record.clone())));
                    conn.role = Role::Closing;
                }
                Role::Attach(_) => conn.send_exit(code),
                Role::New | Role::Exec(_) | Role::Closing => {}
            }
        }
        self.exit = Some(record);
        self.deadline = Some(Instant::now() + LINGER);
    }

    /// Logs (and forwards to attach clients) whatever output is ready, without waiting.
    pub fn drain_main_outputs(&mut self) {
        for index in (0..self.outputs.len()).rev() {
            while self.read_main_output(index) {}
        }
    }

    /// True while there is nothing left to do: the container is recorded and every client
    /// and exec session is done, or the linger time is over.
    pub fn done(&self) -> bool {
        self.deadline.is_some_and(|deadline| {
            (self.conns.is_empty() && self.execs.is_empty()) || Instant::now() >= deadline
        })
    }
}

/// What `try_create` builds.
struct Parts {
    pid: Pid,
    input: Option<Input>,
    outputs: Vec<Output>,
    log: LogWriter,
    cgroup: CgroupFiles,
    signals: SignalFd,
    listener: UnixListener,
}

/// Blocks SIGCHLD (kept pending for the signalfd; processes the runtime starts get an empty
/// mask before they exec) and returns a signalfd reporting it.
fn child_signals() -> Result<SignalFd> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .context("blocking SIGCHLD")?;
    SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
        .context("creating a signalfd")
}

/// Listens on `path`, mode 0600 from the start, in a 0700 directory.
fn bind_socket(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    // A socket left by a shim that died (a live shim would own the container, and the daemon
    // launches one shim per container run).
    let _ = fs::remove_file(path);
    let previous = umask(Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    umask(previous);
    let listener = bound.with_context(|| format!("binding {}", path.display()))?;
    listener
        .set_nonblocking(true)
        .context("making the socket non-blocking")?;
    Ok(listener)
}

/// A path next to the shim's socket, for console sockets (short enough for sun_path).
pub fn sibling(socket: &Path, suffix: &str) -> PathBuf {
    let mut name = socket.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}
