//! `stats`: live resource usage.

use crate::client::Clients;
use crate::docker::stats;
use crate::output::{self, ListFormat};
use anyhow::Result;
use berth_proto::node::v1::StreamContainerStatsRequest;
use clap::Args;
use std::io::IsTerminal;

/// `stats [OPTIONS] [CONTAINER...]`.
#[derive(Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    no_stream: bool,
    /// Format output: table, json, or a Go template.
    #[arg(long)]
    format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// The containers (default: every running container).
    containers: Vec<String>,
}

/// Prints samples: once with `--no-stream`, else refreshed every second until interrupted.
pub async fn stats(clients: &Clients, args: StatsArgs) -> Result<i32> {
    let format = ListFormat::parse(args.format.as_deref(), stats::DEFAULT_TABLE)?;
    let targets = if args.containers.is_empty() {
        vec![String::new()]
    } else {
        args.containers.clone()
    };
    let mut streams = Vec::new();
    for id in targets {
        let request = StreamContainerStatsRequest {
            id,
            stream: !args.no_stream,
        };
        streams.push(
            clients
                .containers()
                .stream_container_stats(request)
                .await?
                .into_inner(),
        );
    }
    let redraw = !args.no_stream && std::io::stdout().is_terminal();
    let mut latest: Vec<Vec<berth_proto::node::v1::ContainerStats>> =
        vec![Vec::new(); streams.len()];
    loop {
        let mut ended = 0;
        for (stream, slot) in streams.iter_mut().zip(latest.iter_mut()) {
            match stream.message().await? {
                Some(message) => *slot = message.stats,
                None => ended += 1,
            }
        }
        let mut rows: Vec<_> = latest.iter().flatten().map(stats::row).collect();
        if args.no_trunc {
            for (row, sample) in rows.iter_mut().zip(latest.iter().flatten()) {
                row["ID"] = sample.id.clone().into();
            }
        }
        let text = format.render(&rows, &stats::headers())?;
        if redraw {
            // Clear the screen and home the cursor, as docker stats does on a terminal.
            output::print(&format!("\x1b[2J\x1b[H{text}"))?;
        } else {
            output::print(&text)?;
        }
        if args.no_stream || ended == streams.len() {
            return Ok(0);
        }
    }
}
