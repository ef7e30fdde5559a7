//! CopyToContainer, CopyFromContainer and ExportContainer: tar streams over the container's
//! root filesystem, resolved in-root by the image crate. A stopped container's rootfs is
//! mounted for the duration of the copy.

use std::{path::PathBuf, sync::Arc};

use berth_image::archive::{self, PathInfo};
use berth_proto::node::v1::{ContainerStatus, CopyToHeader};
use tokio::sync::mpsc;

use super::{entry::Entry, rootfs, ContainerManager};
use crate::{
    context::blocking,
    error::{DomainError, DomainResult},
    stream_io::{stream_blocking, ChunkReader},
};

/// How many chunks may wait for a slow client.
const BUFFER: usize = 4;

/// A tar stream out of a container.
pub struct CopySource {
    /// What the path is (for CopyFrom).
    pub stat: PathInfo,
    /// The tar, in chunks of at most 1 MiB.
    pub chunks: mpsc::Receiver<DomainResult<Vec<u8>>>,
}

/// A rootfs ready to read or write, mounted for as long as this lives.
struct Rootfs {
    path: PathBuf,
    _mount: Option<rootfs::TemporaryMount>,
}

impl ContainerManager {
    async fn rootfs_of(&self, entry: &Arc<Entry>) -> DomainResult<Rootfs> {
        let path = self.ctx.paths.container(&entry.id).rootfs();
        if matches!(
            entry.status(),
            ContainerStatus::Running | ContainerStatus::Paused
        ) {
            return Ok(Rootfs { path, _mount: None });
        }
        let op = Arc::clone(&entry.op).lock_owned().await;
        if matches!(
            entry.status(),
            ContainerStatus::Running | ContainerStatus::Paused
        ) {
            return Ok(Rootfs { path, _mount: None });
        }
        let ctx = Arc::clone(&self.ctx);
        let record = entry.snapshot();
        let mount = blocking("mounting the rootfs", move || {
            let overlay = rootfs::overlay_of(&ctx, &record)?;
            rootfs::TemporaryMount::mount(&overlay, op)
        })
        .await?;
        Ok(Rootfs {
            path,
            _mount: Some(mount),
        })
    }

    /// Streams `path` of the container as a tar (`/` with `stat` of the root for export).
    pub async fn copy_from(&self, query: &str, path: &str) -> DomainResult<CopySource> {
        if !path.starts_with('/') {
            return Err(DomainError::InvalidArgument(format!(
                "the path {path:?} must be absolute"
            )));
        }
        let entry = self.lookup(query)?;
        let root = self.rootfs_of(&entry).await?;
        let path = path.to_owned();
        let stat_root = root.path.clone();
        let stat_path = path.clone();
        let stat = blocking("reading the path", move || {
            Ok(archive::stat_in_root(&stat_root, &stat_path)?)
        })
        .await
        .map_err(|e| match e {
            DomainError::NotFound(_) => DomainError::NotFound(format!(
                "Could not find the file {path} in container {query}"
            )),
            other => other,
        })?;
        let chunks = stream_blocking(BUFFER, move |out| {
            archive::pack(&root.path, &path, out)?;
            // The rootfs stays mounted until the tar is written.
            drop(root);
            Ok(())
        });
        Ok(CopySource { stat, chunks })
    }

    /// Extracts a tar stream into a directory of the container.
    pub async fn copy_to(
        &self,
        header: &CopyToHeader,
        chunks: mpsc::Receiver<Vec<u8>>,
    ) -> DomainResult<()> {
        if !header.path.starts_with('/') {
            return Err(DomainError::InvalidArgument(format!(
                "the path {:?} must be absolute",
                header.path
            )));
        }
        let entry = self.lookup(&header.id)?;
        let root = self.rootfs_of(&entry).await?;
        let dir = header.path.clone();
        let no_overwrite = header.no_overwrite_dir_non_dir;
        blocking("extracting the archive", move || {
            let mut reader = ChunkReader::new(chunks);
            archive::unpack_into(&root.path, &dir, &mut reader, no_overwrite)?;
            drop(root);
            Ok(())
        })
        .await
    }
}
