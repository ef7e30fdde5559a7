//! The image store: lookups, tags, removal and disk use over the index, the content store and
//! the snapshots.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use redb::ReadableTable;

use crate::content::ContentStore;
use crate::index::{self, ImageRecord, SnapshotRecord, View, IMAGES, SNAPSHOTS, TAGS};
use crate::reference::{is_lower_hex, Reference};
use crate::snapshots::Snapshots;
use crate::{DeleteItem, Image, ImageError, StoreUsage};

/// The image store.
pub struct ImageStore {
    pub(crate) db: Arc<redb::Database>,
    pub(crate) content: ContentStore,
    pub(crate) snapshots: Snapshots,
    /// Serialises changes (import, tag, remove) so that reference counts and the decision to
    /// share or delete a snapshot are never made on a stale view. Lookups take no lock.
    write_lock: Mutex<()>,
}

/// How the caller named an image.
pub(crate) enum Named {
    /// By a tag or digest reference.
    Reference(Reference),
    /// By ID or ID prefix.
    Id,
}

impl ImageStore {
    /// Opens the store under `root` (the daemon's `--root`), creating its directories and
    /// tables, and removes leftovers of interrupted ingests and unpacks.
    pub fn open(root: &Path, db: Arc<redb::Database>) -> Result<Self, ImageError> {
        let content = ContentStore::open(root)?;
        let snapshots = Snapshots::open(root)?;
        index::create_tables(&db)?;
        let store = ImageStore {
            db,
            content,
            snapshots,
            write_lock: Mutex::new(()),
        };
        store.collect_garbage()?;
        Ok(store)
    }

    /// Removes snapshots and blobs that no index entry accounts for: what a crash between
    /// writing files and committing (or committing and deleting) left behind.
    fn collect_garbage(&self) -> Result<(), ImageError> {
        let view = View::load(&self.db)?;
        let known: HashSet<u64> = view.snapshots.iter().map(|(_, s)| s.dir).collect();
        self.snapshots.remove_unknown(&known)?;
        let referenced = view.referenced_blobs();
        for blob in self.content.list()? {
            if !referenced.contains(&blob.digest) {
                self.content.delete(&blob.digest)?;
            }
        }
        Ok(())
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, ()> {
        // A panic while holding the lock cannot leave the index inconsistent (every change is
        // one redb transaction), so a poisoned lock is still usable.
        self.write_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Finds an image by reference, full ID (`sha256:…`), bare hex ID or unique ID prefix.
    pub fn get(&self, reference: &str) -> Result<Image, ImageError> {
        let view = View::load(&self.db)?;
        let (record, _) = resolve(&view, reference)?;
        Ok(to_image(&view, record))
    }

    /// Every image, newest first.
    pub fn list(&self) -> Result<Vec<Image>, ImageError> {
        let view = View::load(&self.db)?;
        let mut images: Vec<Image> = view.images.iter().map(|r| to_image(&view, r)).collect();
        images.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(images)
    }

    /// Points `target` at the image `source` resolves to.
    pub fn tag(&self, source: &str, target: &Reference) -> Result<Image, ImageError> {
        if target.digest().is_some() {
            return Err(ImageError::invalid(format!(
                "cannot tag with a digest reference: {target}"
            )));
        }
        let _guard = self.lock();
        let view = View::load(&self.db)?;
        let (record, _) = resolve(&view, source)?;
        let txn = self.db.begin_write()?;
        txn.open_table(TAGS)?
            .insert(target.to_string().as_str(), record.id.as_str())?;
        txn.commit()?;
        self.get(&record.id)
    }

    /// Untags (`reference` is a tag) or removes an image, and deletes layers and blobs no
    /// other image uses. `in_use(image_id)` says whether a container uses an image: such an
    /// image is only untagged, and only with `force`.
    pub fn remove(
        &self,
        reference: &str,
        force: bool,
        in_use: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<DeleteItem>, ImageError> {
        let _guard = self.lock();
        let view = View::load(&self.db)?;
        let (record, named) = resolve(&view, reference)?;
        let tags = view.tags_of(&record.id);
        let short = short_id(&record.id);
        let untag: Vec<String> = match &named {
            Named::Reference(r) => {
                let name = r.to_string();
                let repository = r.name();
                let other_tags: Vec<&String> = tags.iter().filter(|t| **t != name).collect();
                // As in Docker: when a repository loses its last tag, its digest references
                // go too, so a pulled or pushed image does not linger as `<none>`.
                let repository_keeps_a_tag = other_tags
                    .iter()
                    .any(|t| Reference::parse(t).is_ok_and(|o| o.name() == repository));
                let (dropped, kept): (Vec<String>, Vec<String>) =
                    record.repo_digests.iter().cloned().partition(|d| {
                        !repository_keeps_a_tag
                            && Reference::parse(d).is_ok_and(|o| o.name() == repository)
                    });
                if !other_tags.is_empty() || !kept.is_empty() {
                    // Other names remain: only this repository's go, whoever uses the image.
                    return self.untag_only(&record.id, &[name], &dropped);
                }
                if in_use(&record.id) {
                    if !force {
                        return Err(ImageError::InUse(format!(
                            "conflict: unable to remove repository reference {reference:?} \
                             (must force) - a container is using its referenced image {short}"
                        )));
                    }
                    return self.untag_only(&record.id, &[name], &dropped);
                }
                tags.iter().filter(|t| **t == name).cloned().collect()
            }
            Named::Id => {
                let repos: BTreeSet<String> = tags
                    .iter()
                    .filter_map(|t| Reference::parse(t).ok())
                    .map(|r| r.name())
                    .collect();
                if repos.len() > 1 && !force {
                    return Err(ImageError::InUse(format!(
                        "conflict: unable to delete {short} (must be forced) - image is \
                         referenced in multiple repositories"
                    )));
                }
                if in_use(&record.id) {
                    if !force {
                        return Err(ImageError::InUse(format!(
                            "conflict: unable to delete {short} (must be forced) - image is \
                             being used by a container"
                        )));
                    }
                    return self.untag_only(&record.id, &tags, &[]);
                }
                tags
            }
        };
        self.delete_image(&view, record, &untag)
            .map(|(items, _)| items)
    }

    /// Removes tags, and the repo digests `digests` of image `id`, keeping the image.
    fn untag_only(
        &self,
        id: &str,
        tags: &[String],
        digests: &[String],
    ) -> Result<Vec<DeleteItem>, ImageError> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(TAGS)?;
            for tag in tags {
                table.remove(tag.as_str())?;
            }
            if !digests.is_empty() {
                let mut images = txn.open_table(IMAGES)?;
                let stored = images
                    .get(id)?
                    .map(|v| index::decode::<ImageRecord>(v.value()))
                    .transpose()?;
                if let Some(mut record) = stored {
                    record.repo_digests.retain(|d| !digests.contains(d));
                    images.insert(id, index::encode(&record)?.as_slice())?;
                }
            }
        }
        txn.commit()?;
        Ok(tags
            .iter()
            .chain(digests)
            .map(|t| DeleteItem::Untagged(familiar(t)))
            .collect())
    }

    /// Removes the image, its `tags`, and the snapshots and blobs nothing else uses; returns
    /// what it did and the bytes freed. The index changes first; files follow (a crash in
    /// between leaves garbage that `open` collects). `view` must be current (write lock held).
    pub(crate) fn delete_image(
        &self,
        view: &View,
        record: &ImageRecord,
        tags: &[String],
    ) -> Result<(Vec<DeleteItem>, u64), ImageError> {
        // The image's digest references go with it, listed as Docker lists them.
        let mut items: Vec<DeleteItem> = tags
            .iter()
            .chain(&record.repo_digests)
            .map(|t| DeleteItem::Untagged(familiar(t)))
            .collect();
        items.push(DeleteItem::Deleted(record.id.clone()));
        let mut dirs = Vec::new();
        let mut reclaimed = 0u64;
        let txn = self.db.begin_write()?;
        {
            let mut tag_table = txn.open_table(TAGS)?;
            for tag in tags {
                tag_table.remove(tag.as_str())?;
            }
            txn.open_table(IMAGES)?.remove(record.id.as_str())?;
            let mut snapshots = txn.open_table(SNAPSHOTS)?;
            for chain_id in record.chain_ids.iter().rev() {
                let Some(bytes) = snapshots
                    .get(chain_id.as_str())?
                    .map(|v| v.value().to_vec())
                else {
                    continue;
                };
                let mut snapshot: SnapshotRecord = index::decode(&bytes)?;
                snapshot.refs = snapshot.refs.saturating_sub(1);
                if snapshot.refs == 0 {
                    snapshots.remove(chain_id.as_str())?;
                    dirs.push(snapshot.dir);
                    reclaimed += snapshot.size;
                    items.push(DeleteItem::Deleted(chain_id.clone()));
                } else {
                    snapshots.insert(chain_id.as_str(), index::encode(&snapshot)?.as_slice())?;
                }
            }
        }
        txn.commit()?;
        let still_used: HashSet<&String> = view
            .images
            .iter()
            .filter(|i| i.id != record.id)
            .flat_map(|i| i.blobs())
            .collect();
        // The index no longer knows these; a failure to delete one now leaves garbage for the
        // next open to collect, not an inconsistency, so it does not fail the removal.
        for n in dirs {
            let _ = self.snapshots.remove(n);
        }
        for blob in record.blobs().filter(|b| !still_used.contains(b)) {
            let size = self.content.size(blob);
            if self.content.delete(blob).is_ok() {
                reclaimed += size;
            }
        }
        Ok((items, reclaimed))
    }

    /// The unpacked layer directories of an image, top layer first (overlayfs lowerdir order).
    pub fn layer_dirs(&self, image_id: &str) -> Result<Vec<PathBuf>, ImageError> {
        let view = View::load(&self.db)?;
        let (record, _) = resolve(&view, image_id)?;
        record
            .chain_ids
            .iter()
            .rev()
            .map(|chain| {
                view.snapshot(chain)
                    .map(|s| self.snapshots.path(s.dir))
                    .ok_or_else(|| {
                        ImageError::Database(format!("image {} lacks snapshot {chain}", record.id))
                    })
            })
            .collect()
    }

    /// Disk use of layers and blobs.
    pub fn usage(&self) -> Result<StoreUsage, ImageError> {
        let view = View::load(&self.db)?;
        let images = view
            .images
            .iter()
            .map(|record| {
                let snapshots = record.chain_ids.iter().filter_map(|c| view.snapshot(c));
                let (size, shared) = snapshots.fold((0, 0), |(size, shared), s| {
                    (size + s.size, shared + if s.refs > 1 { s.size } else { 0 })
                });
                (record.id.clone(), size, shared)
            })
            .collect();
        Ok(StoreUsage {
            layers_size: view.snapshots.iter().map(|(_, s)| s.size).sum(),
            content_size: self.content.list()?.iter().map(|b| b.size).sum(),
            images,
        })
    }
}

/// Resolves what a user typed, in Docker's order: `sha256:` IDs (or prefixes), then
/// references, then bare hex ID prefixes.
pub(crate) fn resolve<'v>(
    view: &'v View,
    input: &str,
) -> Result<(&'v ImageRecord, Named), ImageError> {
    if let Some(hex) = input.strip_prefix("sha256:") {
        return by_id_prefix(view, input, hex).map(|r| (r, Named::Id));
    }
    if let Ok(reference) = Reference::parse(input) {
        if let Some(digest) = reference.digest() {
            // A pinned reference names the image itself, like its ID.
            let pinned = format!("{}@{digest}", reference.name());
            if let Some(record) = view
                .images
                .iter()
                .find(|i| i.repo_digests.contains(&pinned))
            {
                return Ok((record, Named::Id));
            }
        } else {
            let name = reference.to_string();
            let tagged = view.tags.iter().find(|(tag, _)| *tag == name);
            if let Some(record) = tagged.and_then(|(_, id)| view.image(id)) {
                return Ok((record, Named::Reference(reference)));
            }
        }
    }
    by_id_prefix(view, input, input).map(|r| (r, Named::Id))
}

fn by_id_prefix<'v>(view: &'v View, input: &str, hex: &str) -> Result<&'v ImageRecord, ImageError> {
    if hex.is_empty() || hex.len() > 64 || !is_lower_hex(hex) {
        return Err(ImageError::NotFound(input.to_string()));
    }
    let mut matches = view.images.iter().filter(|i| {
        i.id.strip_prefix("sha256:")
            .is_some_and(|h| h.starts_with(hex))
    });
    match (matches.next(), matches.next()) {
        (Some(record), None) => Ok(record),
        (Some(_), Some(_)) => Err(ImageError::Ambiguous(input.to_string())),
        (None, _) => Err(ImageError::NotFound(input.to_string())),
    }
}

pub(crate) fn to_image(view: &View, record: &ImageRecord) -> Image {
    Image {
        id: record.id.clone(),
        repo_tags: view.tags_of(&record.id),
        repo_digests: record.repo_digests.clone(),
        created: record.created,
        architecture: record.architecture.clone(),
        os: record.os.clone(),
        size: record
            .chain_ids
            .iter()
            .filter_map(|c| view.snapshot(c))
            .map(|s| s.size)
            .sum(),
        config: record.config.clone(),
        diff_ids: record.diff_ids.clone(),
        manifest_digest: record.manifest_digest.clone(),
        author: record.author.clone(),
        comment: record.comment.clone(),
    }
}

/// The 12-hex-digit form Docker prints.
pub(crate) fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// A stored tag the way Docker prints it (`busybox:latest`).
pub(crate) fn familiar(tag: &str) -> String {
    Reference::parse(tag).map_or_else(|_| tag.to_string(), |r| r.familiar())
}
