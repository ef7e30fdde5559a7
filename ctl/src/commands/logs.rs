//! `logs`: a container's log, stdout and stderr kept apart.

use crate::client::Clients;
use crate::error::Failure;
use crate::output::humanize::rfc3339_nano_fixed;
use anyhow::Result;
use berth_proto::node::v1::{Stream, StreamContainerLogsRequest};
use clap::Args;
use tokio::io::AsyncWriteExt;

/// `logs [OPTIONS] CONTAINER`.
#[derive(Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Number of lines to show from the end of the logs ("all" for every line).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps.
    #[arg(short = 't', long)]
    timestamps: bool,
    /// Show logs since a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m).
    #[arg(long)]
    since: Option<String>,
    /// Show logs before a timestamp or relative time.
    #[arg(long)]
    until: Option<String>,
    /// The container.
    container: String,
}

/// Streams the log to stdout and stderr.
pub async fn logs(clients: &Clients, args: LogsArgs) -> Result<i32> {
    let now = chrono::Utc::now();
    let time = |text: &Option<String>| super::time_flag(text.as_deref(), now);
    let tail = match args.tail.as_str() {
        "all" | "" => None,
        n => Some(
            n.parse::<i64>()
                .ok()
                .filter(|n| *n >= -1)
                .ok_or_else(|| Failure::new(format!("invalid value for --tail: {n}")))?,
        )
        .filter(|n| *n >= 0),
    };
    let request = StreamContainerLogsRequest {
        id: args.container,
        follow: args.follow,
        tail,
        since: time(&args.since)?,
        until: time(&args.until)?,
        stdout: true,
        stderr: true,
    };
    let mut stream = clients
        .containers()
        .stream_container_logs(request)
        .await?
        .into_inner();
    let mut stdout = tokio::io::stdout();
    let mut stderr = tokio::io::stderr();
    while let Some(entry) = stream.message().await? {
        let prefix = if args.timestamps {
            format!("{} ", rfc3339_nano_fixed(entry.time.as_ref()))
        } else {
            String::new()
        };
        let out: &mut (dyn tokio::io::AsyncWrite + Unpin + Send) =
            if entry.stream() == Stream::Stderr {
                &mut stderr
            } else {
                &mut stdout
            };
        let written = async {
            out.write_all(prefix.as_bytes()).await?;
            out.write_all(&entry.data).await?;
            out.flush().await
        };
        if written.await.is_err() {
            // The reader went away (`| head`): nothing more to show.
            return Ok(0);
        }
    }
    Ok(0)
}
