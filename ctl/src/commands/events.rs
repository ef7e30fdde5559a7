//! `events`: the daemon's event stream.

use super::ps::parse_filters;
use crate::client::Clients;
use crate::docker::event;
use crate::output::{self, template::Template};
use anyhow::Result;
use berth_proto::node::v1::SubscribeEventsRequest;
use clap::Args;

/// `events [OPTIONS]`.
#[derive(Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided (type=, event=, container=, image=, label=).
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// Show all events created since timestamp.
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    until: Option<String>,
    /// Format output: json, or a Go template.
    #[arg(long)]
    format: Option<String>,
}

/// Prints events as they arrive, until `--until` or an interrupt.
pub async fn events(clients: &Clients, args: EventsArgs) -> Result<i32> {
    let now = chrono::Utc::now();
    let time = |text: &Option<String>| super::time_flag(text.as_deref(), now);
    let template = match args.format.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("json") => Some(Template::parse("{{json .}}")?),
        Some(format) => Some(Template::parse(format)?),
    };
    let request = SubscribeEventsRequest {
        since: time(&args.since)?,
        until: time(&args.until)?,
        filters: parse_filters(&args.filters)?,
    };
    let mut stream = clients
        .system()
        .subscribe_events(request)
        .await?
        .into_inner();
    while let Some(message) = stream.message().await? {
        let Some(found) = message.event else { continue };
        let line = match &template {
            None => event::line(&found),
            Some(template) => template.render(&event::object(&found))?,
        };
        output::print(&format!("{line}\n"))?;
    }
    Ok(0)
}
