//! `export`: a container's filesystem as a tar stream.

use super::chunks::{download_to, refuse_terminal_stdout};
use crate::client::Clients;
use anyhow::Result;
use berth_proto::node::v1::ExportContainerRequest;
use clap::Args;
use std::path::PathBuf;

/// `export [OPTIONS] CONTAINER`.
#[derive(Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// The container.
    container: String,
}

/// Writes the tar to the file or stdout.
pub async fn export(clients: &Clients, args: ExportArgs) -> Result<i32> {
    refuse_terminal_stdout(args.output.as_deref())?;
    let stream = clients
        .containers()
        .export_container(ExportContainerRequest { id: args.container })
        .await?
        .into_inner();
    download_to(stream, args.output.as_deref(), |m| Some(m.chunk)).await?;
    Ok(0)
}
