//! `berth-runtime`: the runc-compatible command line over the `berth_runtime` library.

use anyhow::{bail, Context, Result};
use berth_runtime::{
    features::features, procfs::ProcStat, seal, signal::parse_signal, spec::default_spec,
    CreateOptions, ExecOptions, Runtime, Status, DEFAULT_ROOT,
};
use clap::{Args, Parser, Subcommand, ValueEnum};
use oci_spec::runtime::{Capability, Process};
use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use tracing_subscriber::prelude::*;

mod logging;

#[derive(Parser, Debug)]
#[command(
    name = "berth-runtime",
    version,
    about = "Berth's OCI container runtime (runc-compatible)"
)]
struct Cli {
    /// Directory holding container state.
    #[arg(long, global = true, default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// Append log records to this file instead of stderr.
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log debug messages.
    #[arg(long, global = true)]
    debug: bool,
    /// Accepted for runc compatibility; systemd cgroup management is not supported.
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum OutputFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
struct CreateArgs {
    /// Bundle directory (holding config.json).
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// Write the container's init pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Unix socket receiving the pty master when process.terminal is set.
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for ramfs roots).
    #[arg(long)]
    no_pivot: bool,
    /// Accepted for runc compatibility; no session keyring is created.
    #[arg(long)]
    no_new_keyring: bool,
    /// Pass fds 3..3+N to the container process.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    /// Container ID.
    id: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a container and leave it waiting for `start`.
    Create(CreateArgs),
    /// Run the created container's process.
    Start { id: String },
    /// Print the container's OCI state JSON.
    State { id: String },
    /// Send a signal (default TERM) to the container's init, or with --all to every process.
    Kill {
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "TERM")]
        signal: String,
    },
    /// Delete a stopped container (--force kills a running one first).
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Create and start a container; unless detached, wait and exit with its status.
    Run {
        #[arg(short, long)]
        detach: bool,
        #[command(flatten)]
        create: CreateArgs,
    },
    /// Run a new process inside a running container.
    Exec(ExecArgs),
    /// List containers.
    #[command(alias = "ls")]
    List {
        #[arg(short, long)]
        quiet: bool,
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
    },
    /// Freeze every process of the container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List the container's processes.
    Ps {
        #[arg(short, long, value_enum, default_value_t = OutputFormat::Table)]
        format: OutputFormat,
        id: String,
        /// Accepted for runc compatibility and ignored.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Write a default config.json into the bundle directory.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print the OCI features document.
    Features,
}

#[derive(Args, Debug)]
struct ExecArgs {
    /// process.json describing the process (instead of ARGS).
    #[arg(short, long)]
    process: Option<PathBuf>,
    /// Allocate a pseudo-TTY (needs --console-socket).
    #[arg(short, long)]
    tty: bool,
    #[arg(short, long)]
    detach: bool,
    /// Working directory inside the container.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Extra environment variables (KEY=VALUE).
    #[arg(short, long)]
    env: Vec<String>,
    /// UID[:GID] to run as.
    #[arg(short, long)]
    user: Option<String>,
    /// Supplementary group ids.
    #[arg(short = 'g', long)]
    additional_gids: Vec<u32>,
    /// Extra capabilities (e.g. CAP_NET_ADMIN).
    #[arg(short, long)]
    cap: Vec<String>,
    #[arg(long)]
    no_new_privs: bool,
    #[arg(long)]
    pid_file: Option<PathBuf>,
    #[arg(long)]
    console_socket: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs_to_file = init_logging(&cli);
    if cli.systemd_cgroup {
        tracing::warn!("--systemd-cgroup is not supported; using cgroupfs");
    }
    match run(cli) {
        Ok(code) => ExitCode::from(u8::try_from(code & 0xff).unwrap_or(1)),
        Err(err) => {
            let line = format!("{err:#}").replace('\n', " ");
            if logs_to_file {
                tracing::error!("{line}");
            }
            eprintln!("berth-runtime: {line}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up tracing; returns whether records go to a `--log` file rather than stderr.
fn init_logging(cli: &Cli) -> bool {
    let level = if cli.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::WARN
    };
    // libcgroups warns about every controller a v1 host does not mount.
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(level)
        .with_target("libcgroups", tracing::Level::ERROR);
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    let file = cli
        .log
        .as_ref()
        .and_then(|path| OpenOptions::new().create(true).append(true).open(path).ok());
    let to_file = file.is_some();
    match (file, cli.log_format) {
        (Some(file), LogFormat::Json) => builder
            .event_format(logging::RuncJson)
            .with_writer(std::sync::Mutex::new(file))
            .finish()
            .with(filter)
            .init(),
        (Some(file), LogFormat::Text) => builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .finish()
            .with(filter)
            .init(),
        (None, _) => builder
            .with_writer(std::io::stderr)
            .finish()
            .with(filter)
            .init(),
    }
    to_file
}

fn create_options(args: &CreateArgs) -> CreateOptions {
    CreateOptions {
        bundle: args.bundle.clone(),
        pid_file: args.pid_file.clone(),
        console_socket: args.console_socket.clone(),
        no_pivot: args.no_pivot,
        preserve_fds: args.preserve_fds,
    }
}

fn run(cli: Cli) -> Result<i32> {
    let runtime = Runtime::new(&cli.root);
    match cli.command {
        Command::Create(args) => {
            seal::ensure_sealed(prepare_root(&cli.root)?)?;
            runtime.create(&args.id, &create_options(&args))?;
        }
        Command::Start { id } => runtime.start(&id)?,
        Command::State { id } => {
            let (container, status) = runtime.state(&id)?;
            print_json(&container.oci_state(status))?;
        }
        Command::Kill { all, id, signal } => runtime.kill(&id, parse_signal(&signal)?, all)?,
        Command::Delete { force, id } => runtime.delete(&id, force)?,
        Command::Run { detach, create } => {
            seal::ensure_sealed(prepare_root(&cli.root)?)?;
            return Ok(runtime.run(&create.id, &create_options(&create), detach)?);
        }
        Command::Exec(args) => {
            seal::ensure_sealed(prepare_root(&cli.root)?)?;
            let opts = exec_options(&runtime, &args)?;
            return Ok(runtime.exec(&args.id, &opts)?);
        }
        Command::List { quiet, format } => list(&runtime, quiet, format)?,
        Command::Pause { id } => runtime.pause(&id)?,
        Command::Resume { id } => runtime.resume(&id)?,
        Command::Ps { format, id, .. } => ps(&runtime, &id, format)?,
        Command::Spec { bundle } => write_spec(&bundle)?,
        Command::Features => print_json(&features())?,
    }
    Ok(0)
}

/// Creates the state directory (0700) if needed; it also serves the sealed self-exec.
fn prepare_root(root: &Path) -> Result<&Path> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .with_context(|| format!("creating {}", root.display()))?;
    Ok(root)
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

fn write_spec(bundle: &Path) -> Result<()> {
    let path = bundle.join("config.json");
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    serde_json::to_writer_pretty(file, &default_spec()?)?;
    Ok(())
}

/// The process to exec: a process.json, or the container's own process with ARGS and flags.
fn exec_options(runtime: &Runtime, args: &ExecArgs) -> Result<ExecOptions> {
    let process = match &args.process {
        Some(path) => {
            let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_reader(file).with_context(|| format!("parsing {}", path.display()))?
        }
        None => process_from_flags(runtime, args)?,
    };
    Ok(ExecOptions {
        process,
        console_socket: args.console_socket.clone(),
        pid_file: args.pid_file.clone(),
        detach: args.detach,
        preserve_fds: args.preserve_fds,
    })
}

fn process_from_flags(runtime: &Runtime, args: &ExecArgs) -> Result<Process> {
    if args.args.is_empty() {
        bail!("exec needs a command (ARGS) or --process");
    }
    let (container, _) = runtime.state(&args.id)?;
    let spec = container.spec()?;
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(args.args.clone()));
    process.set_terminal(Some(args.tty));
    process.set_console_size(None);
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    let mut env = process.env().clone().unwrap_or_default();
    env.extend(args.env.iter().cloned());
    process.set_env(Some(env));
    if let Some(user) = &args.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u.parse()?, g.parse()?),
            None => (user.parse()?, 0),
        };
        let u = process.user_mut();
        u.set_uid(uid);
        u.set_gid(gid);
    }
    if !args.additional_gids.is_empty() {
        process
            .user_mut()
            .set_additional_gids(Some(args.additional_gids.clone()));
    }
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if !args.cap.is_empty() {
        add_capabilities(&mut process, &args.cap)?;
    }
    Ok(process)
}

fn add_capabilities(process: &mut Process, names: &[String]) -> Result<()> {
    let extra: HashSet<Capability> = names
        .iter()
        .map(|n| {
            let bare = n.strip_prefix("CAP_").unwrap_or(n);
            Capability::from_str(bare).with_context(|| format!("unknown capability {n:?}"))
        })
        .collect::<Result<_>>()?;
    let mut caps = process.capabilities().clone().unwrap_or_default();
    let grow = |set: &Option<HashSet<Capability>>| -> Option<HashSet<Capability>> {
        Some(
            set.clone()
                .unwrap_or_default()
                .union(&extra)
                .copied()
                .collect(),
        )
    };
    caps.set_bounding(grow(caps.bounding()));
    caps.set_effective(grow(caps.effective()));
    caps.set_permitted(grow(caps.permitted()));
    process.set_capabilities(Some(caps));
    Ok(())
}

fn list(runtime: &Runtime, quiet: bool, format: OutputFormat) -> Result<()> {
    let containers = runtime.list()?;
    if quiet {
        for (container, _) in &containers {
            println!("{}", container.id());
        }
        return Ok(());
    }
    if format == OutputFormat::Json {
        let states: Vec<_> = containers.iter().map(|(c, s)| c.oci_state(*s)).collect();
        return print_json(&states);
    }
    println!(
        "{:<20} {:<8} {:<10} {:<40} CREATED",
        "ID", "PID", "STATUS", "BUNDLE"
    );
    for (c, status) in &containers {
        let pid = if *status == Status::Stopped {
            0
        } else {
            c.record.pid
        };
        println!(
            "{:<20} {:<8} {:<10} {:<40} {}",
            c.id(),
            pid,
            status,
            c.record.bundle.display(),
            c.record.created.to_rfc3339()
        );
    }
    Ok(())
}

fn ps(runtime: &Runtime, id: &str, format: OutputFormat) -> Result<()> {
    let pids = runtime.pids(id)?;
    if format == OutputFormat::Json {
        let raw: Vec<i32> = pids.iter().map(|p| p.as_raw()).collect();
        return print_json(&raw);
    }
    println!("{:<8} {:<8} {:<6} CMD", "PID", "PPID", "STAT");
    for pid in pids {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|raw| {
                String::from_utf8_lossy(&raw)
                    .replace('\0', " ")
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default();
        let (state, ppid) =
            ProcStat::read(pid.as_raw()).map_or(('?', 0), |stat| (stat.state, stat.ppid));
        println!("{pid:<8} {ppid:<8} {state:<6} {cmd}");
    }
    Ok(())
}
