//! Layer downloads: one blob streamed from the registry into the content store and, at the same
//! time, through decompression into the unpacker; the map that lets concurrent pulls share a
//! download; and leases that keep one pull's rollback from deleting what another still needs.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use oci_client::errors::DigestError;
use oci_client::manifest::OciDescriptor;
use tokio::sync::{mpsc, watch};

use super::client::{error_chain, map_error};
use super::manifest::Descriptor;
use super::{LayerProgress, LayerState, ProgressSink};
use crate::content::{Expected, Ingest};
use crate::index::SnapshotRecord;
use crate::layers::{Compression, LayerSnapshot};
use crate::{ImageError, ImageStore};

/// Chunks buffered between the network and the unpacker (backpressure beyond that).
const CHANNEL_DEPTH: usize = 16;
/// Read size between the network and the unpacker.
const BUFFER: usize = 256 * 1024;
/// A registry that sends nothing for this long has failed.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// At most this often a layer reports bytes moved.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// What a download produces, shareable between the pulls waiting for it.
pub(crate) type Outcome = Result<LayerSnapshot, Arc<ImageError>>;
type InFlight = Shared<BoxFuture<'static, Outcome>>;

/// A download in flight: its outcome, and the bytes received so far.
#[derive(Clone)]
struct Entry {
    outcome: InFlight,
    received: watch::Receiver<u64>,
}

/// The downloads in flight and the leases of one daemon.
#[derive(Default)]
pub(crate) struct Downloads {
    in_flight: Mutex<HashMap<String, Entry>>,
    leases: Mutex<HashMap<String, usize>>,
}

/// A download this pull waits for.
pub(crate) struct Joined {
    pub outcome: InFlight,
    /// Bytes received so far (for the progress of the pulls sharing it).
    pub received: watch::Receiver<u64>,
    /// Another pull started it.
    pub shared: bool,
}

impl Downloads {
    /// The download of `key`: the one in flight, or `job` (given where to publish the bytes
    /// received) started now on its own task, so that it completes even when the pull that
    /// started it goes away.
    pub(crate) fn join<F>(self: &Arc<Self>, key: String, job: F) -> Joined
    where
        F: FnOnce(watch::Sender<u64>) -> BoxFuture<'static, Result<LayerSnapshot, ImageError>>,
    {
        let mut map = lock(&self.in_flight);
        if let Some(entry) = map.get(&key) {
            return Joined {
                outcome: entry.outcome.clone(),
                received: entry.received.clone(),
                shared: true,
            };
        }
        let (sender, received) = watch::channel(0);
        let job = job(sender);
        let this = Arc::clone(self);
        let task_key = key.clone();
        let task = tokio::spawn(async move {
            let outcome = job.await.map_err(Arc::new);
            // Before the outcome is visible: whoever comes later starts afresh.
            lock(&this.in_flight).remove(&task_key);
            outcome
        });
        let outcome = async move {
            task.await.unwrap_or_else(|e| {
                Err(Arc::new(ImageError::Unavailable(format!(
                    "a layer download failed: {e}"
                ))))
            })
        }
        .boxed()
        .shared();
        let entry = Entry {
            outcome: outcome.clone(),
            received: received.clone(),
        };
        map.insert(key, entry);
        Joined {
            outcome,
            received,
            shared: false,
        }
    }

    /// A lease on nothing yet.
    pub(crate) fn lease(self: &Arc<Self>) -> Lease {
        Lease {
            downloads: Arc::clone(self),
            keys: Vec::new(),
        }
    }
}

/// Blobs a pull uses or wrote, by digest. While any pull holds a lease on a blob, no other
/// pull's rollback deletes it (or the snapshot unpacked from it).
pub(crate) struct Lease {
    downloads: Arc<Downloads>,
    keys: Vec<String>,
}

impl Lease {
    pub(crate) fn add(&mut self, key: &str) {
        if self.keys.iter().any(|k| k == key) {
            return;
        }
        *lock(&self.downloads.leases)
            .entry(key.to_string())
            .or_default() += 1;
        self.keys.push(key.to_string());
    }

    /// Ends the lease; returns the keys nobody else holds.
    pub(crate) fn release(mut self) -> Vec<String> {
        self.release_all()
    }

    fn release_all(&mut self) -> Vec<String> {
        let mut leases = lock(&self.downloads.leases);
        let mut free = Vec::new();
        for key in self.keys.drain(..) {
            if let Some(count) = leases.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    leases.remove(&key);
                    free.push(key);
                }
            }
        }
        free
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.release_all();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps stay consistent across a panic (single inserts and removes).
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One layer to download.
pub(crate) struct LayerJob {
    pub store: Arc<ImageStore>,
    pub client: oci_client::Client,
    pub image: oci_client::Reference,
    pub layer: Descriptor,
    /// The snapshot it belongs to.
    pub unpack: Unpack,
    pub progress: ProgressSink,
    /// Where the bytes received go, for the pulls sharing this download.
    pub received: watch::Sender<u64>,
    /// For messages: `pulling busybox:latest`.
    pub what: String,
}

/// The snapshot of a downloaded layer: unpacked from the stream, or already there (when only
/// the blob is missing).
pub(crate) struct Unpack {
    pub chain_id: String,
    pub diff_id: String,
    pub compression: Compression,
    /// The snapshot that exists already, when only the blob is missing.
    pub existing: Option<SnapshotRecord>,
}

impl LayerJob {
    /// Streams the layer into the content store and the unpacker at once. Nothing is kept
    /// unless both the blob digest and the diff ID check out.
    pub(crate) async fn run(self) -> Result<LayerSnapshot, ImageError> {
        let LayerJob {
            store,
            client,
            image,
            layer,
            unpack,
            progress,
            received: shared_received,
            what,
        } = self;
        let report = |state, current| {
            shared_received.send_replace(current);
            let _ = progress.send(LayerProgress {
                digest: layer.digest.clone(),
                state,
                current,
                total: layer.size,
            });
        };
        report(LayerState::Transferring, 0);
        let descriptor = OciDescriptor {
            media_type: layer.media_type.clone(),
            digest: layer.digest.clone(),
            size: i64::try_from(layer.size).unwrap_or(i64::MAX),
            ..OciDescriptor::default()
        };
        let stream = client
            .pull_blob_stream(&image, &descriptor)
            .await
            .map_err(|e| map_error(&what, e))?;
        let dir = match &unpack.existing {
            None => {
                let store = Arc::clone(&store);
                Some(blocking(move || store.allocate_snapshot()).await?)
            }
            Some(_) => None,
        };
        let (tx, rx) = mpsc::channel::<Bytes>(CHANNEL_DEPTH);
        let writer = {
            let store = Arc::clone(&store);
            let layer = layer.clone();
            let how = (unpack.diff_id.clone(), unpack.compression);
            tokio::task::spawn_blocking(move || {
                write_layer(
                    &store,
                    ChannelReader::new(rx),
                    &layer,
                    dir.map(|d| (d, how)),
                )
            })
        };
        let mut received = 0u64;
        let pumped = pump(
            stream.stream,
            &tx,
            &layer,
            &what,
            &mut received,
            |current| report(LayerState::Transferring, current),
        )
        .await;
        drop(tx);
        report(LayerState::Verifying, received);
        let written = writer
            .await
            .map_err(|e| ImageError::Unavailable(format!("{what}: a layer writer failed: {e}")))?;
        let size = match (pumped, written) {
            (Ok(()), Ok(size)) => size,
            (Ok(()), Err(e)) => return Err(e),
            (Err(e), written) => {
                // The bytes up to a size overrun may check out: still discard them.
                if written.is_ok() {
                    let digest = layer.digest.clone();
                    let _ = blocking(move || {
                        store.roll_back(dir.as_slice(), &[digest]);
                        Ok(())
                    })
                    .await;
                }
                return Err(e);
            }
        };
        let created = unpack.existing.is_none();
        let snapshot = unpack.existing.unwrap_or(SnapshotRecord {
            dir: dir.unwrap_or_default(),
            diff_id: unpack.diff_id,
            size: size.unwrap_or_default(),
            refs: 0,
        });
        Ok(LayerSnapshot {
            chain_id: unpack.chain_id,
            snapshot,
            created,
        })
    }
}

/// Forwards the registry's chunks to the writer, counting them into `received` and reporting
/// them at most every `PROGRESS_INTERVAL`. Fails on a stream error, a stall of
/// `STALL_TIMEOUT`, or more bytes than the manifest says; stops quietly when the writer has
/// failed (its error says why).
async fn pump<S>(
    mut stream: S,
    tx: &mpsc::Sender<Bytes>,
    layer: &Descriptor,
    what: &str,
    received: &mut u64,
    report: impl Fn(u64),
) -> Result<(), ImageError>
where
    S: futures::Stream<Item = Result<Bytes, io::Error>> + Unpin,
{
    let mut last_report = Instant::now();
    loop {
        let chunk = match tokio::time::timeout(STALL_TIMEOUT, stream.next()).await {
            Ok(None) => return Ok(()),
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(e))) => return Err(stream_error(what, &layer.digest, &e)),
            Err(_) => return Err(stalled(what, &layer.digest)),
        };
        *received += chunk.len() as u64;
        if *received > layer.size {
            return Err(ImageError::Corrupt(format!(
                "{what}: blob {} is larger than the {} bytes its manifest says",
                layer.digest, layer.size
            )));
        }
        if tx.send(chunk).await.is_err() {
            return Ok(());
        }
        if last_report.elapsed() >= PROGRESS_INTERVAL {
            last_report = Instant::now();
            report(*received);
        }
    }
}

/// The sync half: tees the compressed bytes into an ingest while the unpacker reads them
/// decompressed, then commits the blob. Returns the unpacked size, if unpacked.
fn write_layer(
    store: &ImageStore,
    input: ChannelReader,
    layer: &Descriptor,
    unpack: Option<(u64, (String, Compression))>,
) -> Result<Option<u64>, ImageError> {
    // Buffered, so that the tar reader's small reads of an uncompressed layer do not become
    // as many small writes to the blob.
    let mut tee = BufReader::with_capacity(
        BUFFER,
        Tee {
            input,
            ingest: store.content.ingest()?,
        },
    );
    let result = (|| {
        let size = match &unpack {
            Some((dir, (diff_id, compression))) => {
                let tar = compression.reader(&mut tee)?;
                Some(store.snapshots.unpack(*dir, tar, diff_id)?)
            }
            None => None,
        };
        // Whatever follows the end of the compressed stream still belongs to the blob.
        io::copy(&mut tee, &mut io::sink())
            .map_err(|e| ImageError::io(format!("storing blob {}", layer.digest), e))?;
        Ok(size)
    })();
    let committed = result.and_then(|size| {
        tee.into_inner()
            .ingest
            .commit(Expected {
                digest: Some(&layer.digest),
                size: Some(layer.size),
            })
            .map_err(|e| match e {
                ImageError::InvalidArgument(m) => ImageError::Corrupt(format!(
                    "blob {} does not match its manifest: {m}",
                    layer.digest
                )),
                other => other,
            })?;
        Ok(size)
    });
    if committed.is_err() {
        if let Some((dir, _)) = unpack {
            let _ = store.snapshots.remove(dir);
        }
    }
    committed
}

/// A stream error: the registry went away (unavailable) or sent other bytes (corrupt).
pub(crate) fn stream_error(what: &str, digest: &str, error: &io::Error) -> ImageError {
    if error
        .get_ref()
        .is_some_and(|inner| inner.is::<DigestError>())
    {
        return ImageError::Corrupt(format!("{what}: blob {digest}: {error}"));
    }
    ImageError::Unavailable(format!(
        "{what}: downloading {digest}: {}",
        error_chain(error)
    ))
}

/// A transfer that stopped moving.
pub(crate) fn stalled(what: &str, digest: &str) -> ImageError {
    ImageError::Unavailable(format!(
        "{what}: the registry sent nothing for {} s while sending {digest}",
        STALL_TIMEOUT.as_secs()
    ))
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ImageError> + Send + 'static,
) -> Result<T, ImageError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ImageError::Unavailable(format!("a store task failed: {e}")))?
}

/// Reads the chunks the network side sends; EOF when it stops.
struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Bytes>) -> Self {
        ChannelReader {
            rx,
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Copies what is read into the ingest (which hashes it).
struct Tee<'s> {
    input: ChannelReader,
    ingest: Ingest<'s>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(buf)?;
        self.ingest.write_all(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(size: u64) -> Descriptor {
        Descriptor {
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            digest: format!("sha256:{}", "a".repeat(64)),
            size,
            platform: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_registry_that_stops_sending_fails_after_the_stall_timeout() {
        let (tx, mut rx) = mpsc::channel(4);
        let first = futures::stream::iter([Ok(Bytes::from_static(b"abc"))]);
        let stream = first.chain(futures::stream::pending());
        let mut received = 0;
        let started = tokio::time::Instant::now();
        let result = pump(stream, &tx, &layer(10), "pulling x", &mut received, |_| {}).await;
        let err = result.unwrap_err();
        assert!(matches!(err, ImageError::Unavailable(_)), "{err}");
        assert!(err.to_string().contains("sent nothing for 60 s"), "{err}");
        assert!(started.elapsed() >= STALL_TIMEOUT);
        assert_eq!(received, 3);
        assert_eq!(rx.recv().await.unwrap(), Bytes::from_static(b"abc"));
    }

    #[tokio::test]
    async fn more_bytes_than_the_manifest_says_are_corrupt() {
        let (tx, _rx) = mpsc::channel(4);
        let stream = futures::stream::iter([
            Ok(Bytes::from_static(b"abcd")),
            Ok(Bytes::from_static(b"efgh")),
        ]);
        let mut received = 0;
        let err = pump(stream, &tx, &layer(6), "pulling x", &mut received, |_| {})
            .await
            .unwrap_err();
        assert!(matches!(err, ImageError::Corrupt(_)), "{err}");
    }

    #[tokio::test]
    async fn a_failed_writer_stops_the_pump_quietly() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let stream = futures::stream::iter([Ok(Bytes::from_static(b"abcd"))]);
        let mut received = 0;
        pump(stream, &tx, &layer(4), "pulling x", &mut received, |_| {})
            .await
            .unwrap();
    }

    #[test]
    fn leases_free_a_key_when_the_last_holder_releases_it() {
        let downloads = Arc::new(Downloads::default());
        let mut first = downloads.lease();
        let mut second = downloads.lease();
        first.add("a");
        first.add("a");
        first.add("b");
        second.add("b");
        let mut free = first.release();
        free.sort();
        assert_eq!(free, ["a"]);
        assert_eq!(second.release(), ["b"]);
    }
}
