//! The system domain: version, host information, events, disk usage and prune.

use std::{sync::Arc, time::SystemTime};

use berth_image::DeleteItem;
use berth_proto::node::v1::{
    ContainerDiskUsage, ContainerStatus, Event, Filter, GetDiskUsageResponse, GetInfoResponse,
    GetVersionResponse, ImageDiskUsage, SubscribeEventsRequest,
};
use tokio::sync::{broadcast::error::RecvError, mpsc};

use crate::{
    container::{status, ContainerManager},
    context::{blocking, Context},
    error::DomainResult,
    events::EventFilter,
    fsutil, host,
    images::ImageManager,
    time,
};

/// How many events may wait for a slow subscriber.
const EVENT_BUFFER: usize = 256;

/// The system operations.
pub struct SystemManager {
    ctx: Arc<Context>,
    containers: Arc<ContainerManager>,
    images: Arc<ImageManager>,
}

impl SystemManager {
    /// The manager.
    pub fn new(
        ctx: Arc<Context>,
        containers: Arc<ContainerManager>,
        images: Arc<ImageManager>,
    ) -> Self {
        Self {
            ctx,
            containers,
            images,
        }
    }

    /// The daemon's version.
    pub fn version(&self) -> GetVersionResponse {
        GetVersionResponse {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            api_version: "v1".to_owned(),
            git_commit: option_env!("BERTH_GIT_COMMIT").unwrap_or("").to_owned(),
            os: "linux".to_owned(),
            arch: host::architecture().to_owned(),
            kernel_version: host::kernel_version(),
            runtime: self.ctx.runtime.name.clone(),
        }
    }

    /// Counts, drivers, directories and the host.
    pub async fn info(&self) -> DomainResult<GetInfoResponse> {
        let containers = self.containers.all();
        let count =
            |s: ContainerStatus| containers.iter().filter(|c| status::of(c) == s).count() as i64;
        let running = count(ContainerStatus::Running) + count(ContainerStatus::Restarting);
        let paused = count(ContainerStatus::Paused);
        let images = self.images.all().await?.len() as i64;
        Ok(GetInfoResponse {
            containers: containers.len() as i64,
            containers_running: running,
            containers_paused: paused,
            containers_stopped: containers.len() as i64 - running - paused,
            images,
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            driver: "overlay2".to_owned(),
            logging_driver: "json-file".to_owned(),
            cgroup_driver: "cgroupfs".to_owned(),
            cgroup_version: host::cgroup_version().to_owned(),
            kernel_version: host::kernel_version(),
            operating_system: host::operating_system(),
            os_type: "linux".to_owned(),
            architecture: host::architecture().to_owned(),
            ncpu: i64::try_from(host::ncpu()).unwrap_or(i64::MAX),
            mem_total: i64::try_from(host::mem_total()).unwrap_or(i64::MAX),
            name: host::hostname(),
            root_dir: self.ctx.paths.root.to_string_lossy().into_owned(),
            exec_root: self.ctx.paths.exec_root.to_string_lossy().into_owned(),
            default_runtime: self.ctx.runtime.name.clone(),
            security_options: vec![
                "name=seccomp,profile=builtin".to_owned(),
                "name=cgroupns".to_owned(),
                "name=no-new-privileges".to_owned(),
            ],
        })
    }

    /// Stored events since `since`, then live ones, filtered, until `until`.
    pub async fn subscribe(
        &self,
        req: SubscribeEventsRequest,
    ) -> DomainResult<mpsc::Receiver<Event>> {
        let filter = EventFilter::parse(&req.filters)?;
        let until = time::from_timestamp(req.until.as_ref()).map(SystemTime::from);
        // Subscribe before reading the history so nothing falls in between.
        let mut live = self.ctx.events.subscribe();
        let history = match time::from_timestamp(req.since.as_ref()) {
            Some(since) => self.ctx.events.history(since.into()).await?,
            None => Vec::new(),
        };
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        tokio::spawn(async move {
            let past = |e: &Event| {
                until.is_some_and(|u| {
                    time::from_timestamp(e.time.as_ref()).is_some_and(|t| SystemTime::from(t) >= u)
                })
            };
            let mut last_key = None;
            for (key, event) in history {
                last_key = Some(key);
                if past(&event) {
                    return;
                }
                if filter.matches(&event) && tx.send(event).await.is_err() {
                    return;
                }
            }
            let deadline = until.map(|u| {
                let wait = u.duration_since(SystemTime::now()).unwrap_or_default();
                tokio::time::Instant::now() + wait
            });
            loop {
                let next = async {
                    match deadline {
                        Some(d) => tokio::time::timeout_at(d, live.recv()).await.ok(),
                        None => Some(live.recv().await),
                    }
                };
                let received = tokio::select! {
                    r = next => r,
                    () = tx.closed() => return,
                };
                match received {
                    None | Some(Err(RecvError::Closed)) => return,
                    Some(Err(RecvError::Lagged(n))) => {
                        tracing::warn!(skipped = n, "an event subscriber fell behind");
                    }
                    Some(Ok((key, event))) => {
                        if last_key.is_some_and(|k| key <= k) {
                            continue;
                        }
                        if past(&event) {
                            return;
                        }
                        if filter.matches(&event) && tx.send(event).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(rx)
    }

    /// Disk use of images and containers.
    pub async fn disk_usage(&self) -> DomainResult<GetDiskUsageResponse> {
        let ctx = Arc::clone(&self.ctx);
        let usage = blocking("measuring the image store", move || {
            Ok(ctx.images.usage()?)
        })
        .await?;
        let images = self.images.all().await?;
        let containers = self.containers.all();
        let image_usage = usage
            .images
            .iter()
            .map(|(id, size, shared)| ImageDiskUsage {
                id: id.clone(),
                repo_tags: images
                    .iter()
                    .find(|i| &i.id == id)
                    .map(|i| i.repo_tags.clone())
                    .unwrap_or_default(),
                size: i64::try_from(*size).unwrap_or(i64::MAX),
                shared_size: i64::try_from(*shared).unwrap_or(i64::MAX),
                containers: containers.iter().filter(|c| &c.image_id == id).count() as i64,
            })
            .collect();
        let paths = self.ctx.paths.clone();
        let container_usage = blocking("measuring containers", move || {
            Ok(containers
                .iter()
                .map(|c| ContainerDiskUsage {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    size_rw: i64::try_from(fsutil::disk_usage(&paths.container(&c.id).upper()))
                        .unwrap_or(i64::MAX),
                    status: status::of(c).docker_name().to_owned(),
                })
                .collect())
        })
        .await?;
        Ok(GetDiskUsageResponse {
            images: image_usage,
            containers: container_usage,
            layers_size: i64::try_from(usage.layers_size).unwrap_or(i64::MAX),
            content_size: i64::try_from(usage.content_size).unwrap_or(i64::MAX),
        })
    }

    /// Removes stopped containers, then dangling images (with `all`: every image no
    /// container uses), both matching the filters. Returns the removed container IDs, the
    /// image removal steps and the bytes freed.
    pub async fn prune(
        &self,
        all: bool,
        filters: &[Filter],
    ) -> DomainResult<(Vec<String>, Vec<DeleteItem>, u64)> {
        let (containers, container_bytes) = self.containers.prune(filters).await?;
        let images = self.images.prune(all, filters).await?;
        Ok((
            containers,
            images.items,
            container_bytes + images.space_reclaimed,
        ))
    }
}
