//! `ps`: list containers.

use crate::client::Clients;
use crate::docker::ps;
use crate::error::Failure;
use crate::output::{self, ListFormat};
use anyhow::Result;
use berth_proto::node::v1::{Container, Filter, ListContainersRequest};
use clap::Args;

/// `ps [OPTIONS]`.
#[derive(Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short = 'a', long)]
    all: bool,
    /// Only display container IDs.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long = "last", default_value_t = -1, allow_negative_numbers = true)]
    last: i32,
    /// Show the latest created container (includes all states).
    #[arg(short = 'l', long)]
    latest: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Display total file sizes.
    #[arg(short = 's', long)]
    size: bool,
    /// Filter output based on conditions provided (KEY=VALUE).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// Format output: table, json, or a Go template.
    #[arg(long)]
    format: Option<String>,
}

/// Parses `KEY=VALUE` filter arguments.
pub fn parse_filters(filters: &[String]) -> Result<Vec<Filter>> {
    filters
        .iter()
        .map(|filter| {
            filter
                .split_once('=')
                .filter(|(key, _)| !key.is_empty())
                .map(|(key, value)| Filter {
                    key: key.to_string(),
                    value: value.to_string(),
                })
                .ok_or_else(|| {
                    Failure::new(format!(
                        "bad format of filter (expected name=value): {filter}"
                    ))
                    .into()
                })
        })
        .collect()
}

/// Lists containers, every page.
pub async fn list_containers(
    clients: &Clients,
    mut request: ListContainersRequest,
) -> Result<Vec<Container>> {
    let mut containers = Vec::new();
    loop {
        let page = clients
            .containers()
            .list_containers(request.clone())
            .await?
            .into_inner();
        containers.extend(page.containers);
        if page.next_page_token.is_empty() {
            return Ok(containers);
        }
        request.page_token = page.next_page_token;
    }
}

/// Prints the containers.
pub async fn ps(clients: &Clients, args: PsArgs) -> Result<i32> {
    let limit = if args.latest { 1 } else { args.last.max(0) };
    let request = ListContainersRequest {
        all: args.all || limit > 0,
        filters: parse_filters(&args.filters)?,
        limit,
        size: args.size,
        ..Default::default()
    };
    let format = if args.quiet {
        None
    } else {
        Some(ListFormat::parse(
            args.format.as_deref(),
            &default_table(args.size),
        )?)
    };
    let containers = list_containers(clients, request).await?;
    let now = chrono::Utc::now();
    let text = match format {
        None => containers
            .iter()
            .map(|c| {
                format!(
                    "{}\n",
                    if args.no_trunc {
                        c.id.as_str()
                    } else {
                        crate::output::humanize::short_id(&c.id)
                    }
                )
            })
            .collect(),
        Some(format) => {
            let rows: Vec<_> = containers
                .iter()
                .map(|c| ps::row(c, now, !args.no_trunc))
                .collect();
            format.render(&rows, &ps::headers())?
        }
    };
    output::print(&text)?;
    Ok(0)
}

fn default_table(size: bool) -> String {
    if size {
        format!("{}\t{{{{.Size}}}}", ps::DEFAULT_TABLE)
    } else {
        ps::DEFAULT_TABLE.to_string()
    }
}
