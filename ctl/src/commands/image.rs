//! Image commands: images, rmi, tag, image inspect, import.

use super::chunks::{upload, ReaderChunks};
use super::inspect::{find_image, print_objects, report_missing};
use super::ps::parse_filters;
use crate::client::Clients;
use crate::docker::image;
use crate::error::Failure;
use crate::output::{self, humanize::short_id, ListFormat};
use anyhow::Result;
use berth_proto::node::v1::{
    import_image_request, Filter, ImportImageHeader, ImportImageRequest, ListImagesRequest,
    RemoveImageRequest, TagImageRequest,
};
use clap::Args;
use std::collections::HashSet;
use std::path::PathBuf;

/// `images [OPTIONS] [REPOSITORY[:TAG]]`.
#[derive(Args)]
pub struct ImagesArgs {
    /// Show all images (Berth has no intermediate images to hide, so the list is the same).
    #[arg(short = 'a', long)]
    #[allow(dead_code)]
    all: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Show digests.
    #[arg(long)]
    digests: bool,
    /// Filter output based on conditions provided (KEY=VALUE).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// Format output: table, json, or a Go template.
    #[arg(long)]
    format: Option<String>,
    /// Only images of this repository (and tag).
    reference: Option<String>,
}

/// Lists images.
pub async fn images(clients: &Clients, args: ImagesArgs) -> Result<i32> {
    let mut filters = parse_filters(&args.filters)?;
    if let Some(reference) = &args.reference {
        filters.push(Filter {
            key: "reference".into(),
            value: reference.clone(),
        });
    }
    let mut request = ListImagesRequest {
        filters,
        ..Default::default()
    };
    let mut found = Vec::new();
    loop {
        let page = clients
            .images()
            .list_images(request.clone())
            .await?
            .into_inner();
        found.extend(page.images);
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
    }
    if args.quiet {
        let mut seen = HashSet::new();
        let text: String = found
            .iter()
            .map(|i| {
                if args.no_trunc {
                    i.id.as_str()
                } else {
                    short_id(&i.id)
                }
            })
            .filter(|id| seen.insert(*id))
            .map(|id| format!("{id}\n"))
            .collect();
        return output::print(&text).map(|()| 0);
    }
    let default_table = if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        image::DEFAULT_TABLE
    };
    let format = ListFormat::parse(args.format.as_deref(), default_table)?;
    let now = chrono::Utc::now();
    let rows: Vec<_> = found
        .iter()
        .flat_map(|i| image::rows(i, now, !args.no_trunc))
        .collect();
    output::print(&format.render(&rows, &image::headers())?)?;
    Ok(0)
}

/// `rmi [OPTIONS] IMAGE [IMAGE...]`.
#[derive(Args)]
pub struct RmiArgs {
    /// Force removal of the image.
    #[arg(short = 'f', long)]
    force: bool,
    /// The images.
    #[arg(required = true)]
    images: Vec<String>,
}

/// Removes images, printing what was untagged and deleted.
pub async fn rmi(clients: &Clients, args: RmiArgs) -> Result<i32> {
    let mut failed = false;
    for reference in &args.images {
        let request = RemoveImageRequest {
            reference: reference.clone(),
            force: args.force,
        };
        match clients.images().remove_image(request).await {
            Ok(response) => {
                for item in response.into_inner().items {
                    if !item.untagged.is_empty() {
                        println!(
                            "Untagged: {}",
                            crate::docker::familiar_reference(&item.untagged)
                        );
                    }
                    if !item.deleted.is_empty() {
                        println!("Deleted: {}", item.deleted);
                    }
                }
            }
            Err(status) => {
                eprintln!("Error: {}", crate::error::status_message(&status));
                failed = true;
            }
        }
    }
    if failed {
        return Err(Failure::reported().into());
    }
    Ok(0)
}

/// `tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`.
#[derive(Args)]
pub struct TagArgs {
    /// The image to tag.
    source: String,
    /// The new reference.
    target: String,
}

/// Tags an image.
pub async fn tag(clients: &Clients, args: TagArgs) -> Result<i32> {
    clients
        .images()
        .tag_image(TagImageRequest {
            source: args.source,
            target: args.target,
        })
        .await?;
    Ok(0)
}

/// `image inspect [OPTIONS] IMAGE [IMAGE...]`.
#[derive(Args)]
pub struct ImageInspectArgs {
    /// Format output using a Go template, or json.
    #[arg(short = 'f', long)]
    format: Option<String>,
    /// The images.
    #[arg(required = true)]
    images: Vec<String>,
}

/// Inspects images.
pub async fn inspect(clients: &Clients, args: ImageInspectArgs) -> Result<i32> {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for reference in &args.images {
        match find_image(clients, reference).await? {
            Some(value) => values.push(value),
            None => missing.push(reference.clone()),
        }
    }
    print_objects(&values, args.format.as_deref())?;
    report_missing(&missing, "image")
}

/// `import [OPTIONS] FILE|- [REPOSITORY[:TAG]]`.
#[derive(Args)]
pub struct ImportArgs {
    /// Set commit message for imported image.
    #[arg(short = 'm', long)]
    message: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short = 'c', long = "change", value_name = "CHANGE")]
    changes: Vec<String>,
    /// A tar (optionally gzip-compressed) of a root filesystem, or - for stdin.
    file: PathBuf,
    /// The reference to tag the image with.
    reference: Option<String>,
}

/// Imports a rootfs tar as a one-layer image and prints its ID.
pub async fn import(clients: &Clients, args: ImportArgs) -> Result<i32> {
    let source = args.file.display().to_string();
    let header = ImportImageRequest {
        request: Some(import_image_request::Request::Header(ImportImageHeader {
            reference: args.reference.unwrap_or_default(),
            message: args
                .message
                .unwrap_or_else(|| format!("Imported from {source}")),
            changes: args.changes,
        })),
    };
    let chunk = |data| ImportImageRequest {
        request: Some(import_image_request::Request::Chunk(data)),
    };
    let mut client = clients.images();
    let response = if source == "-" {
        upload(ReaderChunks(tokio::io::stdin()), header, chunk, |stream| {
            client.import_image(stream)
        })
        .await?
    } else {
        let file = tokio::fs::File::open(&args.file)
            .await
            .map_err(|e| Failure::new(format!("open {source}: {e}")))?;
        upload(ReaderChunks(file), header, chunk, |stream| {
            client.import_image(stream)
        })
        .await?
    };
    let id = response.image.map(|i| i.id).unwrap_or_default();
    println!("{id}");
    Ok(0)
}
