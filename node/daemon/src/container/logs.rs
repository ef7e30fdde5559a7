//! StreamContainerLogs: the stored log, then (with follow) new entries until the container
//! stops.

use std::{path::PathBuf, sync::Arc, time::Duration};

use berth_proto::node::v1::{Stream, StreamContainerLogsRequest, StreamContainerLogsResponse};
use berth_shim::logs::{self, Follower, LogEntry, LogStream, ReadOptions};
use tokio::sync::mpsc;

use super::{status, ContainerManager};
use crate::{
    context::blocking,
    error::{DomainError, DomainResult},
    time,
};

/// How many entries may wait for a slow client.
const BUFFER: usize = 64;
/// How often a follower looks for new entries.
const POLL: Duration = Duration::from_millis(100);

/// A stream of log entries.
pub type LogReceiver = mpsc::Receiver<DomainResult<StreamContainerLogsResponse>>;

/// The stored entries `wanted` picks, read by a blocking task into a bounded channel: a slow
/// client holds the reader back instead of the daemon buffering the whole log.
pub(super) fn stored_entries(
    path: PathBuf,
    options: ReadOptions,
    wanted: impl Fn(&LogEntry) -> bool + Send + 'static,
) -> mpsc::Receiver<DomainResult<LogEntry>> {
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::task::spawn_blocking(move || {
        let read = logs::read_each(&path, &options, |e| {
            !wanted(&e) || tx.blocking_send(Ok(e)).is_ok()
        });
        if let Err(e) = read {
            let _ = tx.blocking_send(Err(e.into()));
        }
    });
    rx
}

impl ContainerManager {
    /// Streams a container's log.
    pub async fn logs(
        self: &Arc<Self>,
        req: StreamContainerLogsRequest,
    ) -> DomainResult<LogReceiver> {
        let entry = self.lookup(&req.id)?;
        let path = self.ctx.paths.container(&entry.id).log();
        let tail = match req.tail {
            Some(n) if n < 0 => None,
            Some(n) => Some(u64::try_from(n).unwrap_or(0)),
            None => None,
        };
        let options = ReadOptions {
            tail,
            since: time::from_timestamp(req.since.as_ref()),
            until: time::from_timestamp(req.until.as_ref()),
        };
        let both = !req.stdout && !req.stderr;
        let wanted = move |e: &LogEntry| match e.stream {
            LogStream::Stdout => both || req.stdout,
            LogStream::Stderr => both || req.stderr,
        };
        let follow = req.follow && status::is_active(entry.status());
        let follow_path = path.clone();
        // The follower starts before the read so nothing written in between is missed; what
        // both see is skipped by time.
        let follower = if follow {
            Some(
                blocking("following the log", move || {
                    Ok(Follower::new(&follow_path)?)
                })
                .await?,
            )
        } else {
            None
        };
        let mut stored = stored_entries(path, options, wanted);
        let (tx, rx) = mpsc::channel(BUFFER);
        tokio::spawn(async move {
            let mut last = None;
            while let Some(e) = stored.recv().await {
                let e = match e {
                    Ok(e) => e,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                last = Some(e.time);
                if tx.send(Ok(response(e))).await.is_err() {
                    return;
                }
            }
            let Some(mut follower) = follower else { return };
            let mut progress = entry.watch();
            loop {
                let running = status::is_active(entry.status()) && !progress.borrow().removed;
                let (back, polled) = match tokio::task::spawn_blocking(move || {
                    let polled = follower.poll();
                    (follower, polled)
                })
                .await
                {
                    Ok(result) => result,
                    Err(e) => {
                        let _ = tx
                            .send(Err(DomainError::internal("following the log", e)))
                            .await;
                        return;
                    }
                };
                follower = back;
                let entries = match polled {
                    Ok(entries) => entries,
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                };
                for e in entries.into_iter().filter(|e| wanted(e)) {
                    if last.is_some_and(|t| e.time <= t) {
                        continue;
                    }
                    if options.until.is_some_and(|u| e.time >= u) {
                        return;
                    }
                    if tx.send(Ok(response(e))).await.is_err() {
                        return;
                    }
                }
                if !running {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    () = tx.closed() => return,
                    _ = progress.changed() => {}
                }
            }
        });
        Ok(rx)
    }
}

fn response(e: LogEntry) -> StreamContainerLogsResponse {
    StreamContainerLogsResponse {
        stream: match e.stream {
            LogStream::Stdout => Stream::Stdout,
            LogStream::Stderr => Stream::Stderr,
        }
        .into(),
        time: Some(time::to_timestamp(e.time)),
        data: e.data,
    }
}
