//! `save` and `load`: image archives to and from files or the standard streams.

use super::chunks::{download_to, refuse_terminal_stdout, upload, ReaderChunks};
use crate::client::Clients;
use crate::docker::familiar_reference;
use crate::error::Failure;
use anyhow::Result;
use berth_proto::node::v1::{LoadImagesRequest, LoadImagesResponse, SaveImagesRequest};
use clap::Args;
use std::io::IsTerminal;
use std::path::PathBuf;

/// `save [OPTIONS] IMAGE [IMAGE...]`.
#[derive(Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    /// The images.
    #[arg(required = true)]
    images: Vec<String>,
}

/// Writes the images as one tar.
pub async fn save(clients: &Clients, args: SaveArgs) -> Result<i32> {
    refuse_terminal_stdout(args.output.as_deref())?;
    let stream = clients
        .images()
        .save_images(SaveImagesRequest {
            references: args.images,
        })
        .await?
        .into_inner();
    download_to(stream, args.output.as_deref(), |m| Some(m.chunk)).await?;
    Ok(0)
}

/// `load [OPTIONS]`.
#[derive(Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN.
    #[arg(short = 'i', long)]
    input: Option<PathBuf>,
    /// Suppress the load output (there is no progress to hide; the results still print).
    #[arg(short = 'q', long)]
    quiet: bool,
}

/// Loads the images of a tar and names what it loaded.
pub async fn load(clients: &Clients, args: LoadArgs) -> Result<i32> {
    let header = LoadImagesRequest { chunk: Vec::new() };
    let chunk = |chunk| LoadImagesRequest { chunk };
    let mut client = clients.images();
    let response = match &args.input {
        Some(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Failure::new(format!("open {}: {e}", path.display())))?;
            upload(ReaderChunks(file), header, chunk, |s| client.load_images(s)).await?
        }
        None => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::new("requested load from stdin, but stdin is empty").into());
            }
            let stdin = tokio::io::stdin();
            upload(ReaderChunks(stdin), header, chunk, |s| {
                client.load_images(s)
            })
            .await?
        }
    };
    crate::output::print(&loaded_lines(&response))?;
    Ok(0)
}

/// Docker's lines: one per tag, or the ID of an untagged image.
fn loaded_lines(response: &LoadImagesResponse) -> String {
    let mut text = String::new();
    for loaded in &response.images {
        if loaded.tags.is_empty() {
            let id = loaded.image.as_ref().map_or("", |i| i.id.as_str());
            text.push_str(&format!("Loaded image ID: {id}\n"));
        }
        for tag in &loaded.tags {
            text.push_str(&format!("Loaded image: {}\n", familiar_reference(tag)));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_proto::node::v1::{Image, LoadedImage};

    #[test]
    fn loaded_images_print_like_docker() {
        let image = |id: &str| {
            Some(Image {
                id: id.to_owned(),
                ..Default::default()
            })
        };
        let response = LoadImagesResponse {
            images: vec![
                LoadedImage {
                    image: image("sha256:aa"),
                    tags: vec![
                        "docker.io/library/busybox:latest".into(),
                        "host:5000/app:v1".into(),
                    ],
                },
                LoadedImage {
                    image: image("sha256:bb"),
                    tags: Vec::new(),
                },
            ],
        };
        assert_eq!(
            loaded_lines(&response),
            "Loaded image: busybox:latest\nLoaded image: host:5000/app:v1\n\
             Loaded image ID: sha256:bb\n"
        );
    }
}
