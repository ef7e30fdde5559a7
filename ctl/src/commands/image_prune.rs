//! `image prune` and `system prune`: remove unused images (and stopped containers), after
//! Docker's confirmation prompt.

use super::prune::confirm;
use super::ps::parse_filters;
use crate::client::Clients;
use crate::output::humanize::human_size;
use anyhow::Result;
use berth_proto::node::v1::{ImageDeleteItem, PruneImagesRequest, PruneSystemRequest};
use clap::Args;

/// `image prune [OPTIONS]` and `system prune [OPTIONS]`.
#[derive(Args)]
pub struct ImagePruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long)]
    all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>").
    #[arg(long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
}

/// Removes unused images and reports the space reclaimed.
pub async fn image_prune(clients: &Clients, args: ImagePruneArgs) -> Result<i32> {
    let filters = parse_filters(&args.filters)?;
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning)? {
        return Ok(0);
    }
    let response = clients
        .images()
        .prune_images(PruneImagesRequest {
            all: args.all,
            filters,
        })
        .await?
        .into_inner();
    let mut text = deleted_images(&response.items);
    text.push_str(&total(response.space_reclaimed));
    crate::output::print(&text)?;
    Ok(0)
}

/// Removes stopped containers, then unused images.
pub async fn system_prune(clients: &Clients, args: ImagePruneArgs) -> Result<i32> {
    let filters = parse_filters(&args.filters)?;
    let images = if args.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    let warning = format!("WARNING! This will remove:\n  - all stopped containers\n  - {images}\n");
    if !args.force && !confirm(&warning)? {
        return Ok(0);
    }
    let response = clients
        .system()
        .prune_system(PruneSystemRequest {
            all: args.all,
            filters,
        })
        .await?
        .into_inner();
    let mut text = String::new();
    if !response.containers_deleted.is_empty() {
        text.push_str("Deleted Containers:\n");
        for id in &response.containers_deleted {
            text.push_str(&format!("{id}\n"));
        }
        text.push('\n');
    }
    text.push_str(&deleted_images(&response.images_deleted));
    text.push_str(&total(response.space_reclaimed));
    crate::output::print(&text)?;
    Ok(0)
}

/// Docker's `Deleted Images:` block, followed by a blank line; empty when nothing went.
fn deleted_images(items: &[ImageDeleteItem]) -> String {
    if items.is_empty() {
        return String::new();
    }
    let mut text = "Deleted Images:\n".to_owned();
    for item in items {
        if item.deleted.is_empty() {
            text.push_str(&format!("untagged: {}\n", item.untagged));
        } else {
            text.push_str(&format!("deleted: {}\n", item.deleted));
        }
    }
    text.push('\n');
    text
}

fn total(bytes: u64) -> String {
    format!("Total reclaimed space: {}\n", human_size(bytes as f64, 3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_images_print_like_docker() {
        let items = [
            ImageDeleteItem {
                untagged: "busybox:latest".into(),
                deleted: String::new(),
            },
            ImageDeleteItem {
                untagged: String::new(),
                deleted: "sha256:aa".into(),
            },
        ];
        assert_eq!(
            deleted_images(&items),
            "Deleted Images:\nuntagged: busybox:latest\ndeleted: sha256:aa\n\n"
        );
        assert_eq!(deleted_images(&[]), "");
        assert_eq!(total(1_500_000), "Total reclaimed space: 1.5MB\n");
    }
}
