//! Berth's image store.
//!
//! Layout under the daemon's root: `content/blobs/sha256/<hex>` (verified blobs),
//! `content/ingest/` (in-flight writes), `snapshots/<n>/` (one unpacked layer each, shared by
//! every image that has the same chain). The image index (references, images, snapshots) lives
//! in tables of the daemon's redb database.

pub mod archive;
mod changes;
mod content;
mod error;
mod fsops;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod history;
mod import;
mod index;
mod layers;
mod load;
pub mod overlay;
mod paths;
mod prune;
mod reference;
pub mod registry;
mod repo_digests;
mod save;
mod snapshots;
mod store;
mod tar_reader;
mod types;
mod unpack;

pub use error::ImageError;
pub use history::HistoryEntry;
pub use load::LoadedImage;
pub use prune::PruneReport;
pub use reference::Reference;
pub use store::ImageStore;
pub use types::{DeleteItem, Image, ImageConfig, ImportOptions, StoreUsage};
