//! `container prune`: remove every stopped container, after confirmation.

use super::ps::parse_filters;
use crate::client::Clients;
use crate::error::Failure;
use crate::output::humanize::human_size;
use anyhow::Result;
use berth_proto::node::v1::PruneContainersRequest;
use clap::Args;
use std::io::{BufRead, Write};

/// `container prune [OPTIONS]`.
#[derive(Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    force: bool,
    /// Provide filter values (e.g. "until=<timestamp>", "label=<key>=<value>").
    #[arg(long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
}

/// Removes stopped containers and reports the space reclaimed.
pub async fn prune(clients: &Clients, args: PruneArgs) -> Result<i32> {
    let filters = parse_filters(&args.filters)?;
    if !args.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let response = clients
        .containers()
        .prune_containers(PruneContainersRequest { filters })
        .await?
        .into_inner();
    let mut text = String::new();
    if !response.deleted.is_empty() {
        text.push_str("Deleted Containers:\n");
        for id in &response.deleted {
            text.push_str(id);
            text.push('\n');
        }
        text.push('\n');
    }
    text.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(response.space_reclaimed as f64, 3)
    ));
    crate::output::print(&text)?;
    Ok(0)
}

/// Docker's prompt; anything but y/yes declines (also an empty or closed stdin).
pub fn confirm(warning: &str) -> Result<bool> {
    let mut stdout = std::io::stdout();
    write!(
        stdout,
        "{warning}\nAre you sure you want to continue? [y/N] "
    )?;
    stdout.flush()?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(format!("reading the answer: {e}")))?;
    Ok(is_yes(&answer))
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        for yes in ["y\n", "Y", " yes \n", "YES"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yess", "sure"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }
}
