//! `export`: a container's filesystem as a tar stream.

use super::chunks::download;
use crate::client::Clients;
use crate::error::Failure;
use anyhow::Result;
use berth_proto::node::v1::ExportContainerRequest;
use clap::Args;
use std::io::IsTerminal;
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
    if args.output.is_none() && std::io::stdout().is_terminal() {
        return Err(Failure::new(
            "cowardly refusing to save to a terminal. Use the -o flag or redirect",
        )
        .into());
    }
    let stream = clients
        .containers()
        .export_container(ExportContainerRequest { id: args.container })
        .await?
        .into_inner();
    match &args.output {
        Some(path) => {
            // Written next to the target and renamed, so a failed export leaves no partial file.
            let mut partial = path.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let file = tokio::fs::File::create(&partial).await.map_err(|e| {
                Failure::new(format!("failed to create {}: {e}", partial.display()))
            })?;
            if let Err(error) = download(stream, file, |m| Some(m.chunk)).await {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(error);
            }
            tokio::fs::rename(&partial, path).await?;
        }
        None => download(stream, tokio::io::stdout(), |m| Some(m.chunk)).await?,
    }
    Ok(0)
}
