//! `berth-runtime`: the runc-compatible command line over the `berth_runtime` library.

use anyhow::{Context, Result};
use berth_runtime::{
    features::features, seal, signal::parse_signal, spec::default_spec, CreateOptions, Runtime,
};
use clap::Parser;
use std::fs::OpenOptions;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::process::ExitCode;
use tracing_subscriber::prelude::*;

mod cli;
mod exec_flags;
mod logging;
mod output;

use cli::{Cli, Command, CreateArgs, LogFormat};
use exec_flags::exec_options;
use output::{list, print_json, ps};

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
            print_json(&container.record.oci_state(status))?;
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
        Command::Update { resources, id } => runtime.update(&id, &read_resources(&resources)?)?,
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

/// Reads `linux.resources` JSON from `path`, or from stdin for `-`.
fn read_resources(path: &Path) -> Result<oci_spec::runtime::LinuxResources> {
    let data = if path == Path::new("-") {
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut data).context("reading stdin")?;
        data
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
    };
    serde_json::from_slice(&data).context("parsing the resources")
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
