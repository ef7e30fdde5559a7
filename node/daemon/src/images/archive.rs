//! SaveImages and LoadImages: image archives streamed in chunks both ways.

use std::sync::Arc;

use berth_image::LoadedImage;
use tokio::sync::mpsc;

use super::ImageManager;
use crate::{
    context::blocking,
    error::DomainResult,
    stream_io::{stream_blocking, ChunkReader},
};

/// How many chunks may wait for a slow client.
const BUFFER: usize = 4;

impl ImageManager {
    /// Streams the images as one tar (chunks of at most 1 MiB). Unknown images fail before
    /// the stream starts; a later failure ends the stream with its error.
    pub async fn save(
        &self,
        references: Vec<String>,
    ) -> DomainResult<mpsc::Receiver<DomainResult<Vec<u8>>>> {
        let ctx = Arc::clone(&self.ctx);
        let names = references.clone();
        let ids = blocking("resolving the images to save", move || {
            Ok(ctx.images.save_ids(&names)?)
        })
        .await?;
        let ctx = Arc::clone(&self.ctx);
        let rx = stream_blocking(BUFFER, move |out| Ok(ctx.images.save(&references, out)?));
        for id in ids {
            self.emit(&id, "save", &id).await?;
        }
        Ok(rx)
    }

    /// Loads the images of a tar arriving in chunks.
    pub async fn load(&self, chunks: mpsc::Receiver<Vec<u8>>) -> DomainResult<Vec<LoadedImage>> {
        let ctx = Arc::clone(&self.ctx);
        let loaded = blocking("loading images", move || {
            let mut reader = ChunkReader::new(chunks);
            Ok(ctx.images.load(&mut reader)?)
        })
        .await?;
        for image in &loaded {
            let name = image.tags.first().cloned().unwrap_or_default();
            self.emit(&image.image.id, "load", &name).await?;
        }
        Ok(loaded)
    }
}
