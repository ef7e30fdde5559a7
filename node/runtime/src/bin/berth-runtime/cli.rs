//! The command line, runc's flags and commands.

use berth_runtime::DEFAULT_ROOT;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "berth-runtime",
    version,
    about = "Berth's OCI container runtime (runc-compatible)"
)]
pub struct Cli {
    /// Directory holding container state.
    #[arg(long, global = true, default_value = DEFAULT_ROOT)]
    pub root: PathBuf,
    /// Append log records to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Accepted for runc compatibility; systemd cgroup management is not supported.
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Bundle directory (holding config.json).
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Write the container's init pid here.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Unix socket receiving the pty master when process.terminal is set.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root (for ramfs roots).
    #[arg(long)]
    pub no_pivot: bool,
    /// Accepted for runc compatibility; no session keyring is created.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass fds 3..3+N to the container process.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container ID.
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
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
    /// Change the resource limits of a live container.
    Update {
        /// A JSON file of OCI `linux.resources`, or `-` for stdin.
        #[arg(short, long)]
        resources: PathBuf,
        id: String,
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
pub struct ExecArgs {
    /// process.json describing the process (instead of ARGS).
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY (needs --console-socket).
    #[arg(short, long)]
    pub tty: bool,
    #[arg(short, long)]
    pub detach: bool,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables (KEY=VALUE).
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID] to run as.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Supplementary group ids.
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Extra capabilities (e.g. CAP_NET_ADMIN).
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}
