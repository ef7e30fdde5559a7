//! `history`: the steps that made an image, newest first.

use crate::client::Clients;
use crate::output::humanize::{ago, ellipsis, human_size, short_id, to_datetime};
use crate::output::{self, ListFormat};
use anyhow::Result;
use berth_proto::node::v1::{GetImageHistoryRequest, ImageHistoryEntry};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::{ArgAction, Args};
use serde_json::{json, Value};

const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// `history [OPTIONS] IMAGE`.
#[derive(Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format (`--human=false` for raw values).
    #[arg(long, action = ArgAction::Set, default_value_t = true, value_name = "BOOL")]
    human: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    quiet: bool,
    /// Format output: table, json, or a Go template.
    #[arg(long)]
    format: Option<String>,
    /// The image.
    image: String,
}

/// Prints the image's history.
pub async fn history(clients: &Clients, args: HistoryArgs) -> Result<i32> {
    let response = clients
        .images()
        .get_image_history(GetImageHistoryRequest {
            reference: args.image.clone(),
        })
        .await?
        .into_inner();
    let now = Utc::now();
    let rows: Vec<Value> = response
        .history
        .iter()
        .map(|h| row(h, now, args.human, !args.no_trunc))
        .collect();
    if args.quiet {
        let ids: String = rows
            .iter()
            .map(|r| format!("{}\n", r["ID"].as_str().unwrap_or_default()))
            .collect();
        return output::print(&ids).map(|()| 0);
    }
    let format = ListFormat::parse(args.format.as_deref(), DEFAULT_TABLE)?;
    let headers = json!({
        "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
    });
    output::print(&format.render(&rows, &headers)?)?;
    Ok(0)
}

/// One step as Docker's history formatter shows it.
fn row(h: &ImageHistoryEntry, now: DateTime<Utc>, human: bool, truncate: bool) -> Value {
    let id = match (h.id.as_str(), truncate) {
        ("", _) => "<missing>".to_owned(),
        (id, true) => short_id(id).to_owned(),
        (id, false) => id.to_owned(),
    };
    let created = to_datetime(h.created.as_ref());
    let created_at = created.map_or_else(String::new, |c| {
        c.to_rfc3339_opts(SecondsFormat::Secs, true)
    });
    let created_since = match (created, human) {
        (Some(c), true) => ago(c, now),
        (None, true) => "N/A".to_owned(),
        (_, false) => created_at.clone(),
    };
    let created_by = h.created_by.replace('\t', " ");
    let created_by = if truncate {
        ellipsis(&created_by, 45)
    } else {
        created_by
    };
    let size = if human {
        human_size(h.size as f64, 3)
    } else {
        h.size.to_string()
    };
    json!({
        "ID": id,
        "CreatedSince": created_since,
        "CreatedAt": created_at,
        "CreatedBy": created_by,
        "Size": size,
        "Comment": h.comment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::humanize::to_timestamp;

    #[test]
    fn rows_show_missing_ids_and_truncate_commands() {
        let now = Utc::now();
        let created = now - chrono::Duration::days(3);
        let top = ImageHistoryEntry {
            id: format!("sha256:{}", "ab".repeat(32)),
            created: Some(to_timestamp(created)),
            created_by: format!("/bin/sh -c\t{}", "x".repeat(60)),
            size: 4_260_000,
            ..Default::default()
        };
        let r = row(&top, now, true, true);
        assert_eq!(r["ID"], "abababababab");
        assert_eq!(r["CreatedSince"], "3 days ago");
        assert_eq!(r["Size"], "4.26MB");
        let by = r["CreatedBy"].as_str().unwrap();
        assert!(
            by.starts_with("/bin/sh -c x") && by.chars().count() == 45,
            "{by}"
        );
        let raw = row(&ImageHistoryEntry::default(), now, false, false);
        assert_eq!(raw["ID"], "<missing>");
        assert_eq!(raw["Size"], "0");
    }
}
