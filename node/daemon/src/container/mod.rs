//! The container domain: lifecycle, streams and recovery. Knows nothing about gRPC.

mod attach;
mod copy;
mod create;
mod entry;
mod exec;
mod filters;
mod hostfiles;
mod ids;
mod lifecycle;
mod logs;
mod merge;
mod monitor;
mod prune;
mod recovery;
mod remove;
mod resolve;
mod restart;
mod rootfs;
mod signals;
mod stats;
pub mod status;
mod top;
mod update;
mod validate;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, PoisonError, RwLock},
};

use berth_proto::node::v1::{
    Container, ContainerStatus, Event, ListContainersRequest, WaitCondition,
};

pub use attach::{AttachOutput, AttachSession};
pub use copy::CopySource;
pub use entry::Entry;
pub use exec::{ExecOutput, ExecSession};
pub(crate) use filters::parse_until;

use crate::{
    context::{blocking, Context},
    error::{DomainError, DomainResult},
    events, fsutil,
    pagination::{self, SortKey},
    time,
};
use filters::{ContainerFilter, FilterLookup};

/// The keys ListContainers accepts.
const LIST_FILTERS: &[&str] = &[
    "id", "name", "label", "status", "exited", "ancestor", "before", "since",
];

/// Every container of the host.
pub struct ContainerManager {
    ctx: Arc<Context>,
    entries: RwLock<BTreeMap<String, Arc<Entry>>>,
}

impl ContainerManager {
    /// Loads the stored containers (call [`ContainerManager::recover`] next).
    pub fn load(ctx: Arc<Context>) -> DomainResult<Arc<Self>> {
        let entries = ctx
            .store
            .containers()?
            .into_iter()
            .map(|c| (c.id.clone(), Entry::new(c)))
            .collect();
        Ok(Arc::new(Self {
            ctx,
            entries: RwLock::new(entries),
        }))
    }

    fn entries(&self) -> Vec<Arc<Entry>> {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    fn insert(&self, entry: Arc<Entry>) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry.id.clone(), entry);
    }

    fn forget(&self, id: &str) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id);
    }

    /// Finds a container by ID, name or unique ID prefix.
    pub fn lookup(&self, query: &str) -> DomainResult<Arc<Entry>> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let names: Vec<(String, String)> =
            entries.values().map(|e| (e.id.clone(), e.name())).collect();
        let id = resolve::resolve(
            query,
            names.iter().map(|(id, name)| (id.as_str(), name.as_str())),
        )?;
        entries
            .get(&id)
            .cloned()
            .ok_or_else(|| DomainError::NotFound(format!("No such container: {query}")))
    }

    /// Whether any container uses the image.
    pub fn image_in_use(&self, image_id: &str) -> bool {
        self.entries()
            .iter()
            .any(|e| e.snapshot().image_id == image_id)
    }

    /// Every container record.
    pub fn all(&self) -> Vec<Container> {
        self.entries().iter().map(|e| e.snapshot()).collect()
    }

    /// One container, with the size of its writable layer if asked.
    pub async fn get(&self, query: &str, size: bool) -> DomainResult<Container> {
        let entry = self.lookup(query)?;
        let mut c = entry.snapshot();
        if size {
            c.size_rw = Some(self.size_rw(&c.id).await?);
        }
        Ok(c)
    }

    async fn size_rw(&self, id: &str) -> DomainResult<i64> {
        let upper = self.ctx.paths.container(id).upper();
        blocking("measuring the writable layer", move || {
            Ok(i64::try_from(fsutil::disk_usage(&upper)).unwrap_or(i64::MAX))
        })
        .await
    }

    /// Lists containers newest first, filtered and paginated.
    pub async fn list(
        &self,
        req: &ListContainersRequest,
    ) -> DomainResult<(Vec<Container>, String)> {
        let filter = ContainerFilter::parse(&req.filters, LIST_FILTERS, self)?;
        let mut all = self.all();
        all.sort_by_key(|c| std::cmp::Reverse(sort_key(c)));
        let show_all = req.all || req.limit > 0 || filter.has_status();
        let mut matching: Vec<Container> = all
            .into_iter()
            .filter(|c| show_all || status::is_active(status::of(c)))
            .filter(|c| filter.matches(c))
            .collect();
        if req.limit > 0 {
            matching.truncate(usize::try_from(req.limit).unwrap_or(usize::MAX));
        }
        let (mut page, next) =
            pagination::paginate(matching, sort_key, req.page_size, &req.page_token)?;
        if req.size {
            for c in &mut page {
                c.size_rw = Some(self.size_rw(&c.id).await?);
            }
        }
        Ok((page, next))
    }

    /// Blocks until the condition holds; returns the exit code and error of the last run.
    pub async fn wait(&self, query: &str, condition: WaitCondition) -> DomainResult<(i32, String)> {
        let entry = self.lookup(query)?;
        let start = *entry.watch().borrow();
        match condition {
            WaitCondition::Unspecified | WaitCondition::NotRunning => {
                entry
                    .wait_for(|p| p.removed || !status::is_active(entry.status()))
                    .await;
            }
            WaitCondition::NextExit => {
                entry.wait_for(|p| p.removed || p.exits > start.exits).await;
            }
            WaitCondition::Removed => entry.wait_for(|p| p.removed).await,
        }
        let state = entry.snapshot().state.unwrap_or_default();
        Ok((state.exit_code, state.error))
    }

    /// Applies `change` to the record, persists it with the events it returns in one
    /// transaction, then publishes. `exited` marks the end of a run for waiters.
    async fn commit<F>(&self, entry: &Entry, exited: bool, change: F) -> DomainResult<Container>
    where
        F: FnOnce(&mut Container) -> Vec<Event>,
    {
        let _serial = entry.commit.lock().await;
        let mut record = entry.snapshot();
        let events = change(&mut record);
        let ctx = Arc::clone(&self.ctx);
        let stored = record.clone();
        blocking("storing the container", move || {
            let mut batch = ctx.store.write()?;
            batch.update_container(&stored)?;
            for event in &events {
                batch.append_event(event)?;
            }
            ctx.events.commit(batch)
        })
        .await?;
        entry.set(record.clone(), exited);
        Ok(record)
    }
}

impl FilterLookup for ContainerManager {
    fn created(&self, query: &str) -> DomainResult<i128> {
        Ok(time::nanos(self.lookup(query)?.snapshot().created.as_ref()))
    }

    fn image_id(&self, reference: &str) -> Option<String> {
        self.ctx.images.get(reference).ok().map(|i| i.id)
    }
}

fn sort_key(c: &Container) -> SortKey {
    SortKey {
        created: time::nanos(c.created.as_ref()),
        id: c.id.clone(),
    }
}

/// A container event with Docker's attributes: name, image, labels, plus `extra`.
fn container_event(c: &Container, action: &str, extra: &[(&str, String)]) -> Event {
    let config = c.config.clone().unwrap_or_default();
    let mut attributes: HashMap<String, String> = config.labels;
    attributes.insert("name".to_owned(), c.name.clone());
    attributes.insert("image".to_owned(), config.image);
    for (k, v) in extra {
        attributes.insert((*k).to_owned(), v.clone());
    }
    events::event("container", action, &c.id, attributes)
}

/// Sets the status of a record.
fn set_status(c: &mut Container, status: ContainerStatus) {
    c.state.get_or_insert_with(Default::default).status = status.into();
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_proto::node::v1::{ContainerState, Filter};
    use std::path::PathBuf;

    /// A manager over real stores on a temporary root, with stored records (no shims).
    fn manager(
        dir: &std::path::Path,
        records: &[(&str, &str, ContainerStatus, i64)],
    ) -> Arc<ContainerManager> {
        let store = Arc::new(berth_store::Store::open(&dir.join("meta.redb"), 100).unwrap());
        let images = Arc::new(berth_image::ImageStore::open(dir, store.database()).unwrap());
        let mut batch = store.write().unwrap();
        for (id, name, status, created) in records {
            batch
                .insert_container(&Container {
                    id: (*id).into(),
                    name: (*name).into(),
                    created: Some(prost_types::Timestamp {
                        seconds: *created,
                        nanos: 0,
                    }),
                    state: Some(ContainerState {
                        status: (*status).into(),
                        ..ContainerState::default()
                    }),
                    ..Container::default()
                })
                .unwrap();
        }
        batch.commit().unwrap();
        let ctx = Arc::new(Context {
            paths: crate::paths::Paths {
                root: dir.to_owned(),
                exec_root: dir.join("run"),
            },
            events: crate::events::EventBus::new(Arc::clone(&store)),
            store,
            images,
            registry: berth_image::registry::Registry::new(Default::default()),
            runtime: crate::config::RuntimeSetting {
                choice: berth_shim::RuntimeChoice::Builtin,
                name: "builtin".into(),
            },
            shim: PathBuf::from("/nonexistent/berth-shim"),
            cgroup_parent: "/berth".into(),
        });
        ContainerManager::load(ctx).unwrap()
    }

    fn ids(list: &[Container]) -> Vec<&str> {
        list.iter().map(|c| c.id.as_str()).collect()
    }

    #[tokio::test]
    async fn list_is_newest_first_filtered_limited_and_paginated() {
        let dir = tempfile::tempdir().unwrap();
        let m = manager(
            dir.path(),
            &[
                ("aaa", "one", ContainerStatus::Running, 10),
                ("bbb", "two", ContainerStatus::Exited, 20),
                ("ccc", "three", ContainerStatus::Running, 30),
                ("ddd", "four", ContainerStatus::Created, 40),
            ],
        );
        let list = |req: ListContainersRequest| {
            let m = Arc::clone(&m);
            async move { m.list(&req).await.unwrap() }
        };
        let (running, _) = list(ListContainersRequest::default()).await;
        assert_eq!(ids(&running), ["ccc", "aaa"]);
        let (all, _) = list(ListContainersRequest {
            all: true,
            ..Default::default()
        })
        .await;
        assert_eq!(ids(&all), ["ddd", "ccc", "bbb", "aaa"]);
        let (limited, _) = list(ListContainersRequest {
            limit: 1,
            filters: vec![Filter {
                key: "status".into(),
                value: "running".into(),
            }],
            ..Default::default()
        })
        .await;
        assert_eq!(ids(&limited), ["ccc"]);
        let (page, token) = list(ListContainersRequest {
            all: true,
            page_size: 3,
            ..Default::default()
        })
        .await;
        assert_eq!(ids(&page), ["ddd", "ccc", "bbb"]);
        let (rest, end) = list(ListContainersRequest {
            all: true,
            page_size: 3,
            page_token: token,
            ..Default::default()
        })
        .await;
        assert_eq!((ids(&rest), end.as_str()), (vec!["aaa"], ""));
        let (since, _) = list(ListContainersRequest {
            all: true,
            filters: vec![Filter {
                key: "since".into(),
                value: "two".into(),
            }],
            ..Default::default()
        })
        .await;
        assert_eq!(ids(&since), ["ddd", "ccc"]);
    }

    #[tokio::test]
    async fn lookups_resolve_names_and_prefixes_and_state_guards_hold() {
        let dir = tempfile::tempdir().unwrap();
        let m = manager(
            dir.path(),
            &[
                ("abc1", "web", ContainerStatus::Running, 1),
                ("abd2", "db", ContainerStatus::Exited, 2),
            ],
        );
        assert_eq!(m.lookup("web").unwrap().id, "abc1");
        assert_eq!(m.lookup("abd").unwrap().id, "abd2");
        assert!(matches!(
            m.lookup("ab"),
            Err(DomainError::InvalidArgument(_))
        ));
        let err = m.remove("web", false).await.unwrap_err();
        assert!(matches!(err, DomainError::FailedPrecondition(_)));
        assert_eq!(
            err.to_string(),
            "cannot remove container \"/web\": container is running: stop the container before removing or force remove"
        );
        let err = m.start("web").await.unwrap_err();
        assert_eq!(err.to_string(), "container abc1 is already running");
        assert!(matches!(
            m.kill("db", "KILL").await,
            Err(DomainError::FailedPrecondition(_))
        ));
        assert!(matches!(
            m.kill("web", "NOPE").await,
            Err(DomainError::InvalidArgument(_))
        ));
        m.rename("db", "store").await.unwrap();
        assert_eq!(m.lookup("store").unwrap().id, "abd2");
        assert!(matches!(
            m.rename("store", "web").await,
            Err(DomainError::AlreadyExists(_))
        ));
        m.remove("store", false).await.unwrap();
        assert!(matches!(m.lookup("store"), Err(DomainError::NotFound(_))));
    }
}
