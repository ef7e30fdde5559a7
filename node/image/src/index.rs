//! The image index: the store's own tables in the daemon's redb database. Values are JSON so
//! records can grow fields without a migration.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{ImageConfig, ImageError};

/// Image ID (`sha256:…`) → [`ImageRecord`].
pub(crate) const IMAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("image.images");
/// Normalised reference (`docker.io/library/busybox:latest`) → image ID.
pub(crate) const TAGS: TableDefinition<&str, &str> = TableDefinition::new("image.tags");
/// Chain ID → [`SnapshotRecord`].
pub(crate) const SNAPSHOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("image.snapshots");
/// Named counters (`next_snapshot`).
pub(crate) const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("image.counters");

pub(crate) const NEXT_SNAPSHOT: &str = "next_snapshot";

/// An image as stored (tags live in [`TAGS`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImageRecord {
    pub id: String,
    pub manifest_digest: String,
    /// Layer blob digests, bottom first.
    pub layers: Vec<String>,
    pub diff_ids: Vec<String>,
    /// Chain IDs, bottom first: the snapshot keys.
    pub chain_ids: Vec<String>,
    pub created: Option<DateTime<Utc>>,
    pub architecture: String,
    pub os: String,
    pub author: String,
    pub comment: String,
    pub config: ImageConfig,
    pub repo_digests: Vec<String>,
}

impl ImageRecord {
    /// The blobs this image needs: manifest, config and layers.
    pub(crate) fn blobs(&self) -> impl Iterator<Item = &String> {
        [&self.manifest_digest, &self.id]
            .into_iter()
            .chain(self.layers.iter())
    }
}

/// One unpacked layer, shared by every image with the same chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SnapshotRecord {
    /// The directory number: `snapshots/<dir>`.
    pub dir: u64,
    pub diff_id: String,
    /// Bytes of file data.
    pub size: u64,
    /// How many images use it.
    pub refs: u64,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, ImageError> {
    serde_json::to_vec(value).map_err(|e| ImageError::Database(format!("encoding a record: {e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ImageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ImageError::Database(format!("decoding a record: {e}")))
}

/// Creates the tables so that read transactions never meet a missing one.
pub(crate) fn create_tables(db: &redb::Database) -> Result<(), ImageError> {
    let txn = db.begin_write()?;
    txn.open_table(IMAGES)?;
    txn.open_table(TAGS)?;
    txn.open_table(SNAPSHOTS)?;
    txn.open_table(COUNTERS)?;
    txn.commit()?;
    Ok(())
}

/// A consistent view of the index.
pub(crate) struct View {
    pub images: Vec<ImageRecord>,
    /// (reference, image ID).
    pub tags: Vec<(String, String)>,
    /// (chain ID, record).
    pub snapshots: Vec<(String, SnapshotRecord)>,
}

impl View {
    /// Reads every table in one read transaction (the index is small: images, not files).
    pub(crate) fn load(db: &redb::Database) -> Result<Self, ImageError> {
        let txn = db.begin_read()?;
        Ok(View {
            images: all_values(&txn.open_table(IMAGES)?)?
                .into_iter()
                .map(|(_, v)| v)
                .collect(),
            tags: {
                let table = txn.open_table(TAGS)?;
                let mut tags = Vec::new();
                for row in table.iter()? {
                    let (k, v) = row?;
                    tags.push((k.value().to_string(), v.value().to_string()));
                }
                tags
            },
            snapshots: all_values(&txn.open_table(SNAPSHOTS)?)?,
        })
    }

    pub(crate) fn image(&self, id: &str) -> Option<&ImageRecord> {
        self.images.iter().find(|i| i.id == id)
    }

    /// The references pointing at `id`, sorted.
    pub(crate) fn tags_of(&self, id: &str) -> Vec<String> {
        let mut tags: Vec<String> = self
            .tags
            .iter()
            .filter(|(_, target)| target == id)
            .map(|(tag, _)| tag.clone())
            .collect();
        tags.sort();
        tags
    }

    pub(crate) fn snapshot(&self, chain_id: &str) -> Option<&SnapshotRecord> {
        self.snapshots
            .iter()
            .find(|(chain, _)| chain == chain_id)
            .map(|(_, s)| s)
    }

    /// Every blob some image needs.
    pub(crate) fn referenced_blobs(&self) -> HashSet<String> {
        self.images
            .iter()
            .flat_map(|i| i.blobs().cloned())
            .collect()
    }
}

fn all_values<T: DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<(String, T)>, ImageError> {
    let mut out = Vec::new();
    for row in table.iter()? {
        let (k, v) = row?;
        out.push((k.value().to_string(), decode(v.value())?));
    }
    Ok(out)
}
