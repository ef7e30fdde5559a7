//! One module per command group; `dispatch` runs the parsed command.

pub mod attach;
pub mod chunks;
pub mod completion;
pub mod container_flags;
pub mod copy;
pub mod create;
pub mod events;
pub mod exec;
pub mod export;
pub mod history;
pub mod image;
pub mod image_archive;
pub mod image_name;
pub mod image_prune;
pub mod inspect;
pub mod lifecycle;
pub mod login;
pub mod logs;
pub mod port;
pub mod prune;
pub mod ps;
pub mod pull;
pub mod push;
pub mod resolve;
pub mod run;
pub mod stats;
pub mod system;
pub mod top;

use crate::cli::{Command, ContainerCommand, ContainerGroupCommand, ImageCommand, SystemCommand};
use crate::client::Clients;
use crate::error::Failure;
use crate::output::humanize::to_timestamp;
use crate::parse::time::parse_timestamp;
use anyhow::Result;
use chrono::{DateTime, Utc};
use prost_types::Timestamp;

/// Runs a command against the daemon and returns the exit code.
pub async fn dispatch(command: Command, clients: &Clients, host: &str) -> Result<i32> {
    match command {
        Command::Container(command) => container(*command, clients).await,
        Command::ContainerGroup(group) => match group.command {
            ContainerGroupCommand::Common(command) => container(*command, clients).await,
            ContainerGroupCommand::Prune(args) => prune::prune(clients, args).await,
        },
        Command::Pull(args) => pull::pull(clients, args).await,
        Command::Push(args) => push::push(clients, args).await,
        Command::Login(args) => login::login(clients, args).await,
        Command::Logout(args) => login::logout(args).await,
        Command::Images(args) => image::images(clients, args).await,
        Command::Rmi(args) => image::rmi(clients, args).await,
        Command::Tag(args) => image::tag(clients, args).await,
        Command::Import(args) => image::import(clients, args).await,
        Command::Save(args) => image_archive::save(clients, args).await,
        Command::Load(args) => image_archive::load(clients, args).await,
        Command::History(args) => history::history(clients, args).await,
        Command::ImageGroup(group) => match group.command {
            ImageCommand::Pull(args) => pull::pull(clients, args).await,
            ImageCommand::Push(args) => push::push(clients, args).await,
            ImageCommand::Ls(args) => image::images(clients, args).await,
            ImageCommand::Rm(args) => image::rmi(clients, args).await,
            ImageCommand::Tag(args) => image::tag(clients, args).await,
            ImageCommand::Inspect(args) => image::inspect(clients, args).await,
            ImageCommand::Import(args) => image::import(clients, args).await,
            ImageCommand::Save(args) => image_archive::save(clients, args).await,
            ImageCommand::Load(args) => image_archive::load(clients, args).await,
            ImageCommand::History(args) => history::history(clients, args).await,
            ImageCommand::Prune(args) => image_prune::image_prune(clients, args).await,
        },
        Command::Version(args) => system::version(clients, host, args).await,
        Command::Info(args) => system::info(clients, args).await,
        Command::Events(args) => events::events(clients, args).await,
        Command::SystemGroup(group) => match group.command {
            SystemCommand::Df(args) => system::df(clients, args).await,
            SystemCommand::Info(args) => system::info(clients, args).await,
            SystemCommand::Events(args) => events::events(clients, args).await,
            SystemCommand::Prune(args) => image_prune::system_prune(clients, args).await,
        },
        Command::Completion(args) => completion::completion(args),
    }
}

async fn container(command: ContainerCommand, clients: &Clients) -> Result<i32> {
    match command {
        ContainerCommand::Run(args) => run::run(clients, args).await,
        ContainerCommand::Create(args) => create::create(clients, args).await,
        ContainerCommand::Start(args) => lifecycle::start(clients, args).await,
        ContainerCommand::Stop(args) => lifecycle::stop(clients, args).await,
        ContainerCommand::Kill(args) => lifecycle::kill(clients, args).await,
        ContainerCommand::Restart(args) => lifecycle::restart(clients, args).await,
        ContainerCommand::Pause(args) => lifecycle::pause(clients, args).await,
        ContainerCommand::Unpause(args) => lifecycle::unpause(clients, args).await,
        ContainerCommand::Rm(args) => lifecycle::rm(clients, args).await,
        ContainerCommand::Ps(args) => ps::ps(clients, args).await,
        ContainerCommand::Logs(args) => logs::logs(clients, args).await,
        ContainerCommand::Inspect(args) => inspect::inspect(clients, args).await,
        ContainerCommand::Exec(args) => exec::exec(clients, args).await,
        ContainerCommand::Attach(args) => attach::attach(clients, args).await,
        ContainerCommand::Wait(args) => lifecycle::wait(clients, args).await,
        ContainerCommand::Top(args) => top::top(clients, args).await,
        ContainerCommand::Stats(args) => stats::stats(clients, args).await,
        ContainerCommand::Rename(args) => lifecycle::rename(clients, args).await,
        ContainerCommand::Update(args) => lifecycle::update(clients, args).await,
        ContainerCommand::Port(args) => port::port(clients, args).await,
        ContainerCommand::Cp(args) => copy::cp(clients, args).await,
        ContainerCommand::Export(args) => export::export(clients, args).await,
    }
}

/// A `--since` or `--until` value (a timestamp, or a duration back from `now`) for a request.
fn time_flag(text: Option<&str>, now: DateTime<Utc>) -> Result<Option<Timestamp>, Failure> {
    text.map(|t| {
        parse_timestamp(t, now)
            .map(to_timestamp)
            .map_err(Failure::new)
    })
    .transpose()
}
