//! `docker history`: the steps recorded in an image's config, newest first, with the size of
//! each step's layer from its snapshot.

use chrono::{DateTime, Utc};
use oci_spec::image::ImageConfiguration;

use crate::index::View;
use crate::store::resolve;
use crate::{ImageError, ImageStore};

/// One step of an image's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The image ID on the top entry; empty below it (Docker prints `<missing>`).
    pub id: String,
    /// When the step ran.
    pub created: Option<DateTime<Utc>>,
    /// The command that made it.
    pub created_by: String,
    /// Bytes its layer adds; 0 for steps without a layer.
    pub size: u64,
    /// The step's comment.
    pub comment: String,
    /// The image's tags (normalised), on the top entry.
    pub tags: Vec<String>,
    /// The step changed only the config.
    pub empty_layer: bool,
}

impl ImageStore {
    /// The history of the image `reference` names, newest first. A config without history
    /// gets one step per layer.
    pub fn history(&self, reference: &str) -> Result<Vec<HistoryEntry>, ImageError> {
        let view = View::load(&self.db)?;
        let (record, _) = resolve(&view, reference)?;
        let config_bytes = self.read_document(&record.id)?;
        let config: ImageConfiguration = serde_json::from_slice(&config_bytes)
            .map_err(|e| ImageError::invalid(format!("invalid image config {}: {e}", record.id)))?;
        let layer_sizes: Vec<u64> = record
            .chain_ids
            .iter()
            .map(|chain| view.snapshot(chain).map_or(0, |s| s.size))
            .collect();
        let mut layers = layer_sizes.iter();
        let mut entries: Vec<HistoryEntry> = match config.history() {
            Some(history) if !history.is_empty() => history
                .iter()
                .map(|step| {
                    let empty_layer = step.empty_layer().unwrap_or(false);
                    let size = if empty_layer {
                        0
                    } else {
                        layers.next().copied().unwrap_or(0)
                    };
                    HistoryEntry {
                        id: String::new(),
                        created: step.created().as_deref().and_then(parse_time),
                        created_by: step.created_by().clone().unwrap_or_default(),
                        size,
                        comment: step.comment().clone().unwrap_or_default(),
                        tags: Vec::new(),
                        empty_layer,
                    }
                })
                .collect(),
            _ => layer_sizes
                .iter()
                .map(|size| HistoryEntry {
                    id: String::new(),
                    created: record.created,
                    created_by: String::new(),
                    size: *size,
                    comment: String::new(),
                    tags: Vec::new(),
                    empty_layer: false,
                })
                .collect(),
        };
        entries.reverse();
        if let Some(top) = entries.first_mut() {
            top.id = record.id.clone();
            top.tags = view.tags_of(&record.id);
        }
        Ok(entries)
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
