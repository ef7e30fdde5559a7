//! `docker image prune`: removes dangling images (no tag), or with `all` every image no
//! container uses, through the same deletion path as `remove`, so that layers and blobs still
//! shared with another image stay.

use crate::index::View;
use crate::store::to_image;
use crate::{DeleteItem, Image, ImageError, ImageStore};

/// What a prune removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// What was untagged and deleted, in order.
    pub items: Vec<DeleteItem>,
    /// Bytes freed: the deleted snapshots' file data and the deleted blobs.
    pub space_reclaimed: u64,
}

impl ImageStore {
    /// Removes every dangling image (with `all`: every image) that `matches` accepts and no
    /// container uses (`in_use(image_id)`).
    pub fn prune(
        &self,
        all: bool,
        matches: &dyn Fn(&Image) -> bool,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<PruneReport, ImageError> {
        let _guard = self.lock();
        let candidates: Vec<String> = {
            let view = View::load(&self.db)?;
            view.images
                .iter()
                .map(|record| to_image(&view, record))
                .filter(|image| all || image.repo_tags.is_empty())
                .filter(|image| !in_use(&image.id) && matches(image))
                .map(|image| image.id)
                .collect()
        };
        let mut report = PruneReport::default();
        for id in candidates {
            // Reloaded each time: whether a layer or blob is still shared depends on the
            // images deleted before it.
            let view = View::load(&self.db)?;
            let Some(record) = view.image(&id) else {
                continue;
            };
            let tags = view.tags_of(&id);
            let (items, reclaimed) = self.delete_image(&view, record, &tags)?;
            report.items.extend(items);
            report.space_reclaimed += reclaimed;
        }
        Ok(report)
    }
}
