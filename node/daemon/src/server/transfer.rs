//! Pull and push progress as response streams: the transfer's layer progress, then one
//! message with its outcome.

use std::future::Future;

use berth_image::registry::{self, LayerState};
use berth_proto::node::v1::{self as proto, LayerProgress};
use tokio::sync::mpsc;

use super::streams::{self, BoxStream};
use crate::error::DomainResult;

/// Runs a transfer that reports progress into `updates`' sender, as a response stream: its
/// progress messages, then one message with its outcome (or its error). The transfer runs to
/// its end even when the client goes away, so that nothing is left half done.
pub(super) fn transfer_stream<T, O>(
    work: impl Future<Output = DomainResult<O>> + Send + 'static,
    mut updates: mpsc::UnboundedReceiver<registry::LayerProgress>,
    on_progress: impl Fn(LayerProgress) -> T + Send + 'static,
    on_outcome: impl FnOnce(O) -> T + Send + 'static,
) -> BoxStream<T>
where
    T: Send + 'static,
    O: Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    let progress_tx = tx.clone();
    tokio::spawn(async move {
        let forward = async move {
            while let Some(p) = updates.recv().await {
                // A client that went away does not stop the transfer.
                let _ = progress_tx.send(Ok(on_progress(layer_progress(p)))).await;
            }
        };
        // The work drops its progress sender when it ends, which ends `forward`.
        let (outcome, ()) = tokio::join!(work, forward);
        let _ = tx.send(outcome.map(on_outcome)).await;
    });
    streams::from_domain(rx)
}

/// The API form of a layer's progress .
fn layer_progress(p: registry::LayerProgress) -> LayerProgress {
    let state = match p.state {
        LayerState::Waiting => proto::LayerState::Waiting,
        LayerState::Transferring => proto::LayerState::Transferring,
        LayerState::Verifying => proto::LayerState::Verifying,
        LayerState::Complete => proto::LayerState::Complete,
        LayerState::AlreadyExists => proto::LayerState::AlreadyExists,
        LayerState::Mounted => proto::LayerState::Mounted,
        LayerState::Shared => proto::LayerState::Shared,
    };
    LayerProgress {
        digest: p.digest,
        state: state as i32,
        current: i64::try_from(p.current).unwrap_or(i64::MAX),
        total: i64::try_from(p.total).unwrap_or(i64::MAX),
    }
}
