//! Recording where an image lives in registries (`repo@sha256:…`), after a push.

use redb::ReadableTable;

use crate::index::{self, ImageRecord, IMAGES};
use crate::{ImageError, ImageStore};

impl ImageStore {
    /// Adds `repo_digest` (`name@sha256:…`) to the image `image_id`, in one transaction; an
    /// entry already there is kept once.
    pub fn add_repo_digest(&self, image_id: &str, repo_digest: &str) -> Result<(), ImageError> {
        let _guard = self.lock();
        let txn = self.db.begin_write()?;
        {
            let mut images = txn.open_table(IMAGES)?;
            let bytes = images
                .get(image_id)?
                .map(|v| v.value().to_vec())
                .ok_or_else(|| ImageError::NotFound(image_id.to_string()))?;
            let mut record: ImageRecord = index::decode(&bytes)?;
            if record.repo_digests.iter().any(|d| d == repo_digest) {
                return Ok(());
            }
            record.repo_digests.push(repo_digest.to_string());
            images.insert(image_id, index::encode(&record)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }
}
