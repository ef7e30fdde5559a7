//! GetImageHistory and PruneImages.

use std::sync::Arc;

use berth_image::{HistoryEntry, Image, PruneReport};
use berth_proto::node::v1::Filter;

use super::ImageManager;
use crate::{
    container::parse_until,
    context::blocking,
    error::{DomainError, DomainResult},
};

impl ImageManager {
    /// The image's history, newest first.
    pub async fn history(&self, reference: &str) -> DomainResult<Vec<HistoryEntry>> {
        let ctx = Arc::clone(&self.ctx);
        let reference = reference.to_owned();
        blocking("reading the image history", move || {
            Ok(ctx.images.history(&reference)?)
        })
        .await
    }

    /// Removes dangling images (with `all`: every unused image) that pass the filters.
    pub async fn prune(&self, all: bool, filters: &[Filter]) -> DomainResult<PruneReport> {
        let filter = PruneFilter::parse(filters)?;
        let used = self.used_images();
        let ctx = Arc::clone(&self.ctx);
        let report = blocking("pruning images", move || {
            Ok(ctx
                .images
                .prune(all, &|image: &Image| filter.matches(image), &|id: &str| {
                    used.contains(id)
                })?)
        })
        .await?;
        self.emit_deletes(&report.items).await?;
        Ok(report)
    }
}

/// The filters of PruneImages: `until`, `label`, `label!`.
#[derive(Default)]
struct PruneFilter {
    /// Only images created before this time (ns since the epoch).
    until: Option<i128>,
    labels: Vec<String>,
    not_labels: Vec<String>,
}

impl PruneFilter {
    fn parse(filters: &[Filter]) -> DomainResult<Self> {
        let mut f = Self::default();
        for Filter { key, value } in filters {
            match key.as_str() {
                "until" => f.until = Some(parse_until(value)?),
                "label" => f.labels.push(value.clone()),
                "label!" => f.not_labels.push(value.clone()),
                other => {
                    return Err(DomainError::InvalidArgument(format!(
                        "invalid filter '{other}'"
                    )))
                }
            }
        }
        Ok(f)
    }

    fn matches(&self, image: &Image) -> bool {
        let created = image.created.map_or(0, |t| {
            i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
        });
        self.until.is_none_or(|u| created < u)
            && self.labels.iter().all(|l| has_label(image, l))
            && !self.not_labels.iter().any(|l| has_label(image, l))
    }
}

/// `key` or `key=value` against the image's labels.
fn has_label(image: &Image, label: &str) -> bool {
    let labels = &image.config.labels;
    match label.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(label),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(key: &str, value: &str) -> Filter {
        Filter {
            key: key.to_owned(),
            value: value.to_owned(),
        }
    }

    #[test]
    fn prune_filters_match_labels_and_age() {
        let mut image = Image {
            id: "sha256:x".into(),
            repo_tags: Vec::new(),
            repo_digests: Vec::new(),
            created: chrono::DateTime::from_timestamp(1_000, 0),
            architecture: String::new(),
            os: String::new(),
            size: 0,
            config: Default::default(),
            diff_ids: Vec::new(),
            manifest_digest: String::new(),
            author: String::new(),
            comment: String::new(),
        };
        image.config.labels.insert("tier".into(), "web".into());
        let parse = |f: &[Filter]| PruneFilter::parse(f).unwrap();
        assert!(parse(&[filter("label", "tier")]).matches(&image));
        assert!(parse(&[filter("label", "tier=web")]).matches(&image));
        assert!(!parse(&[filter("label", "tier=db")]).matches(&image));
        assert!(!parse(&[filter("label!", "tier")]).matches(&image));
        assert!(parse(&[filter("until", "2000")]).matches(&image));
        assert!(!parse(&[filter("until", "500")]).matches(&image));
        assert!(PruneFilter::parse(&[filter("dangling", "true")]).is_err());
    }
}
