//! The image domain: a thin layer over `berth_image::ImageStore` that adds events, container
//! usage checks, list filters and pagination.

mod archive;
mod maintenance;
mod pull;
mod push;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use berth_image::{DeleteItem, Image, ImportOptions, Reference};
use berth_proto::node::v1::{Filter, ImportImageHeader, ListImagesRequest};
use tokio::sync::mpsc;

use crate::{
    container::ContainerManager,
    context::{blocking, Context},
    error::{DomainError, DomainResult},
    events,
    pagination::{self, SortKey},
    stream_io::ChunkReader,
};

/// The image operations.
pub struct ImageManager {
    ctx: Arc<Context>,
    containers: Arc<ContainerManager>,
}

impl ImageManager {
    /// The manager.
    pub fn new(ctx: Arc<Context>, containers: Arc<ContainerManager>) -> Self {
        Self { ctx, containers }
    }

    /// Imports a rootfs tar arriving in chunks.
    pub async fn import(
        &self,
        header: ImportImageHeader,
        chunks: mpsc::Receiver<Vec<u8>>,
    ) -> DomainResult<Image> {
        let reference = if header.reference.is_empty() {
            None
        } else {
            Some(Reference::parse(&header.reference)?)
        };
        let options = ImportOptions {
            reference,
            message: header.message,
            changes: header.changes,
        };
        let ctx = Arc::clone(&self.ctx);
        let image = blocking("importing the image", move || {
            let mut reader = ChunkReader::new(chunks);
            Ok(ctx.images.import(&mut reader, &options)?)
        })
        .await?;
        let name = image.repo_tags.first().cloned().unwrap_or_default();
        self.emit(&image.id, "import", &name).await?;
        Ok(image)
    }

    /// One image.
    pub async fn get(&self, reference: &str) -> DomainResult<Image> {
        let ctx = Arc::clone(&self.ctx);
        let reference = reference.to_owned();
        blocking("reading the image", move || {
            Ok(ctx.images.get(&reference)?)
        })
        .await
    }

    /// Every image, newest first.
    pub async fn all(&self) -> DomainResult<Vec<Image>> {
        let ctx = Arc::clone(&self.ctx);
        blocking("listing images", move || Ok(ctx.images.list()?)).await
    }

    /// Lists images, filtered and paginated.
    pub async fn list(&self, req: &ListImagesRequest) -> DomainResult<(Vec<Image>, String)> {
        let all = self.all().await?;
        let filter = ImageFilter::parse(&req.filters, &all)?;
        let mut matching: Vec<Image> = all
            .into_iter()
            .filter(|i| filter.matches(i))
            .map(|i| filter.matching_tags(i))
            .collect();
        matching.sort_by_key(|i| std::cmp::Reverse(sort_key(i)));
        pagination::paginate(matching, sort_key, req.page_size, &req.page_token)
    }

    /// Untags or removes an image; refuses (without force) one that containers use.
    pub async fn remove(&self, reference: &str, force: bool) -> DomainResult<Vec<DeleteItem>> {
        let used = self.used_images();
        let ctx = Arc::clone(&self.ctx);
        let reference = reference.to_owned();
        let items = blocking("removing the image", move || {
            Ok(ctx
                .images
                .remove(&reference, force, &|id: &str| used.contains(id))?)
        })
        .await?;
        self.emit_deletes(&items).await?;
        Ok(items)
    }

    /// The IDs of the images containers use.
    fn used_images(&self) -> HashSet<String> {
        self.containers
            .all()
            .into_iter()
            .map(|c| c.image_id)
            .collect()
    }

    /// The `untag` and `delete` events of a removal.
    async fn emit_deletes(&self, items: &[DeleteItem]) -> DomainResult<()> {
        for item in items {
            match item {
                DeleteItem::Untagged(tag) => self.emit(tag, "untag", tag).await?,
                DeleteItem::Deleted(id) => self.emit(id, "delete", id).await?,
            }
        }
        Ok(())
    }

    /// Tags an image.
    pub async fn tag(&self, source: &str, target: &str) -> DomainResult<Image> {
        let target_ref = Reference::parse(target)?;
        let ctx = Arc::clone(&self.ctx);
        let source = source.to_owned();
        let image = blocking("tagging the image", move || {
            Ok(ctx.images.tag(&source, &target_ref)?)
        })
        .await?;
        self.emit(&image.id, "tag", target).await?;
        Ok(image)
    }

    async fn emit(&self, actor: &str, action: &str, name: &str) -> DomainResult<()> {
        let attributes = HashMap::from([("name".to_owned(), name.to_owned())]);
        self.ctx
            .events
            .emit(events::event("image", action, actor, attributes))
            .await
    }
}

fn sort_key(i: &Image) -> SortKey {
    SortKey {
        created: i.created.map_or(0, |t| {
            i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
        }),
        id: i.id.clone(),
    }
}

/// The filters of ListImages.
#[derive(Default)]
struct ImageFilter {
    references: Vec<String>,
    dangling: Option<bool>,
    labels: Vec<String>,
    before: Option<SortKey>,
    since: Option<SortKey>,
}

impl ImageFilter {
    fn parse(filters: &[Filter], all: &[Image]) -> DomainResult<Self> {
        let mut f = Self::default();
        let find = |value: &str| -> DomainResult<SortKey> {
            all.iter()
                .find(|i| {
                    i.id == value
                        || i.id.trim_start_matches("sha256:").starts_with(value)
                        || i.repo_tags.iter().any(|t| reference_matches(value, t))
                })
                .map(sort_key)
                .ok_or_else(|| DomainError::NotFound(format!("No such image: {value}")))
        };
        for Filter { key, value } in filters {
            match key.as_str() {
                "reference" => f.references.push(value.clone()),
                "dangling" => {
                    f.dangling = Some(match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => {
                            return Err(DomainError::InvalidArgument(format!(
                                "invalid filter 'dangling={value}'"
                            )))
                        }
                    })
                }
                "label" => f.labels.push(value.clone()),
                "before" => f.before = Some(find(value)?),
                "since" => f.since = Some(find(value)?),
                other => {
                    return Err(DomainError::InvalidArgument(format!(
                        "invalid filter '{other}'"
                    )))
                }
            }
        }
        Ok(f)
    }

    /// With `reference` filters, the image shows only the tags that match (as in Docker).
    fn matching_tags(&self, mut image: Image) -> Image {
        if !self.references.is_empty() {
            image
                .repo_tags
                .retain(|t| self.references.iter().any(|r| reference_matches(r, t)));
        }
        image
    }

    fn matches(&self, i: &Image) -> bool {
        let key = sort_key(i);
        (self.references.is_empty()
            || self
                .references
                .iter()
                .any(|r| i.repo_tags.iter().any(|t| reference_matches(r, t))))
            && self.dangling.is_none_or(|d| d == i.repo_tags.is_empty())
            && self.labels.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => i.config.labels.get(k).is_some_and(|x| x == v),
                None => i.config.labels.contains_key(l),
            })
            && self.before.as_ref().is_none_or(|b| key < *b)
            && self.since.as_ref().is_none_or(|s| key > *s)
    }
}

/// Whether a `reference` filter pattern (a glob, with or without tag) matches a normalised
/// tag, also in its familiar short form (`busybox:latest`).
fn reference_matches(pattern: &str, tag: &str) -> bool {
    let familiar = tag
        .strip_prefix("docker.io/library/")
        .or_else(|| tag.strip_prefix("docker.io/"))
        .unwrap_or(tag);
    let repo = |t: &str| -> String {
        match t.rfind(':') {
            Some(colon) if !t[colon..].contains('/') => t[..colon].to_owned(),
            _ => t.to_owned(),
        }
    };
    [tag, familiar]
        .iter()
        .any(|t| glob(pattern, t) || glob(pattern, &repo(t)))
}

/// `*` matches any run of characters except `/`, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let mut memo = vec![vec![None; t.len() + 1]; p.len() + 1];
    fn go(p: &[char], t: &[char], i: usize, j: usize, memo: &mut Vec<Vec<Option<bool>>>) -> bool {
        if let Some(v) = memo[i][j] {
            return v;
        }
        let v = match p.get(i) {
            None => j == t.len(),
            Some('*') => {
                go(p, t, i + 1, j, memo) || (j < t.len() && t[j] != '/' && go(p, t, i, j + 1, memo))
            }
            Some('?') => j < t.len() && go(p, t, i + 1, j + 1, memo),
            Some(c) => j < t.len() && t[j] == *c && go(p, t, i + 1, j + 1, memo),
        };
        memo[i][j] = Some(v);
        v
    }
    go(&p, &t, 0, 0, &mut memo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_patterns_match_familiar_and_full_names() {
        let tag = "docker.io/library/busybox:latest";
        assert!(reference_matches("busybox", tag));
        assert!(reference_matches("busybox:latest", tag));
        assert!(reference_matches("busy*", tag));
        assert!(reference_matches("docker.io/library/busybox:*", tag));
        assert!(!reference_matches("alpine", tag));
        assert!(!reference_matches("busybox:1.36", tag));
        assert!(reference_matches("host:5000/app", "host:5000/app:v1"));
        assert!(!reference_matches("*", "host:5000/app:v1"));
    }

    #[test]
    fn globs_do_not_cross_slashes() {
        assert!(glob("a*c", "abbc"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a*c", "a/c"));
        assert!(!glob("abc", "abcd"));
    }
}
