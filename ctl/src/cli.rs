//! The command line: Docker's command names, aliases and global flags.

use crate::client::DEFAULT_HOST;
use crate::commands::{
    attach::AttachArgs,
    completion::CompletionArgs,
    copy::CpArgs,
    create::CreateArgs,
    events::EventsArgs,
    exec::ExecArgs,
    export::ExportArgs,
    history::HistoryArgs,
    image::{ImageInspectArgs, ImagesArgs, ImportArgs, RmiArgs, TagArgs},
    image_archive::{LoadArgs, SaveArgs},
    image_prune::ImagePruneArgs,
    inspect::InspectArgs,
    lifecycle::{
        ContainersArgs, KillArgs, RenameArgs, RestartArgs, RmArgs, StartArgs, StopArgs, UpdateArgs,
        WaitArgs,
    },
    login::{LoginArgs, LogoutArgs},
    logs::LogsArgs,
    port::PortArgs,
    prune::PruneArgs,
    ps::PsArgs,
    pull::PullArgs,
    push::PushArgs,
    run::RunArgs,
    stats::StatsArgs,
    system::{DfArgs, InfoArgs, VersionArgs},
    top::TopArgs,
};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// berthctl: run and manage containers on a berth node, with Docker's commands and flags.
#[derive(Parser)]
#[command(
    name = "berthctl",
    version,
    propagate_version = true,
    subcommand_required = true
)]
pub struct Cli {
    /// The daemon to talk to: unix:///path/to/socket or tcp://host:port.
    #[arg(short = 'H', long, env = "BERTH_HOST", default_value = DEFAULT_HOST, global = true)]
    pub host: String,
    /// CA certificate for tcp:// hosts (default ~/.berth/ca.pem).
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Client certificate for tcp:// hosts (default ~/.berth/cert.pem).
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// Client key for tcp:// hosts (default ~/.berth/key.pem).
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand)]
pub enum Command {
    #[command(flatten)]
    Container(Box<ContainerCommand>),
    /// Manage containers.
    #[command(name = "container")]
    ContainerGroup(ContainerGroup),
    /// Download an image from a registry.
    Pull(PullArgs),
    /// Upload an image to a registry.
    Push(PushArgs),
    /// Authenticate to a registry.
    Login(LoginArgs),
    /// Log out from a registry.
    Logout(LogoutArgs),
    /// List images.
    Images(ImagesArgs),
    /// Remove one or more images.
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(LoadArgs),
    /// Show the history of an image.
    History(HistoryArgs),
    /// Manage images.
    #[command(name = "image")]
    ImageGroup(ImageGroup),
    /// Show the berthctl and berthd version information.
    Version(VersionArgs),
    /// Display system-wide information.
    Info(InfoArgs),
    /// Get real time events from the server.
    Events(EventsArgs),
    /// Manage berth.
    #[command(name = "system")]
    SystemGroup(SystemGroup),
    /// Generate a shell completion script.
    Completion(CompletionArgs),
}

/// The container commands, at the top level and under `container`.
#[derive(Subcommand)]
pub enum ContainerCommand {
    /// Create and run a new container from an image.
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container.
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// Stop one or more running containers.
    Stop(StopArgs),
    /// Kill one or more running containers.
    Kill(KillArgs),
    /// Restart one or more containers.
    Restart(RestartArgs),
    /// Pause all processes within one or more containers.
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers.
    Unpause(ContainersArgs),
    /// Remove one or more containers.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// List containers.
    #[command(visible_alias = "ls", alias = "list")]
    Ps(PsArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Return low-level information on berth objects.
    Inspect(InspectArgs),
    /// Execute a command in a running container.
    Exec(ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(AttachArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(WaitArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(StatsArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Update configuration of one or more containers.
    Update(UpdateArgs),
    /// List port mappings or a specific mapping for the container.
    Port(PortArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
}

/// `container …`.
#[derive(Args)]
pub struct ContainerGroup {
    #[command(subcommand)]
    pub command: ContainerGroupCommand,
}

/// The commands under `container`.
#[derive(Subcommand)]
pub enum ContainerGroupCommand {
    #[command(flatten)]
    Common(Box<ContainerCommand>),
    /// Remove all stopped containers.
    Prune(PruneArgs),
}

/// `image …`.
#[derive(Args)]
pub struct ImageGroup {
    #[command(subcommand)]
    pub command: ImageCommand,
}

/// The commands under `image`.
#[derive(Subcommand)]
pub enum ImageCommand {
    /// Download an image from a registry.
    Pull(PullArgs),
    /// Upload an image to a registry.
    Push(PushArgs),
    /// List images.
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images.
    #[command(visible_alias = "remove", alias = "rmi")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Display detailed information on one or more images.
    Inspect(ImageInspectArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(LoadArgs),
    /// Show the history of an image.
    History(HistoryArgs),
    /// Remove unused images.
    Prune(ImagePruneArgs),
}

/// `system …`.
#[derive(Args)]
pub struct SystemGroup {
    #[command(subcommand)]
    pub command: SystemCommand,
}

/// The commands under `system`.
#[derive(Subcommand)]
pub enum SystemCommand {
    /// Show disk usage.
    Df(DfArgs),
    /// Display system-wide information.
    Info(InfoArgs),
    /// Get real time events from the server.
    Events(EventsArgs),
    /// Remove unused data.
    Prune(ImagePruneArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
