//! One write transaction over containers, names and events.

use berth_proto::node::v1::{Container, Event};
use prost::Message;
use redb::{ReadableTable, ReadableTableMetadata, WriteTransaction};

use crate::{
    decode_container,
    events::{timestamp_time, EventKey},
    tables::{CONTAINERS, EVENTS, NAMES},
    Store, StoreError,
};

/// Changes committed together by [`WriteBatch::commit`], or dropped with the batch.
pub struct WriteBatch<'s> {
    store: &'s Store,
    txn: WriteTransaction,
    appended: Vec<(EventKey, Event)>,
}

impl<'s> WriteBatch<'s> {
    pub(crate) fn new(store: &'s Store, txn: WriteTransaction) -> Self {
        Self {
            store,
            txn,
            appended: Vec::new(),
        }
    }

    /// Adds a new container and claims its name, failing if either is taken.
    pub fn insert_container(&mut self, container: &Container) -> Result<(), StoreError> {
        let mut containers = self.txn.open_table(CONTAINERS)?;
        if containers.get(container.id.as_str())?.is_some() {
            return Err(StoreError::IdInUse(container.id.clone()));
        }
        let mut names = self.txn.open_table(NAMES)?;
        if let Some(owner) = names.get(container.name.as_str())? {
            return Err(StoreError::NameInUse {
                name: container.name.clone(),
                id: owner.value().to_owned(),
            });
        }
        names.insert(container.name.as_str(), container.id.as_str())?;
        containers.insert(container.id.as_str(), container.encode_to_vec().as_slice())?;
        Ok(())
    }

    /// Replaces an existing container's record. A changed name is a rename: the new name must
    /// be free, and the old one is released.
    pub fn update_container(&mut self, container: &Container) -> Result<(), StoreError> {
        let mut containers = self.txn.open_table(CONTAINERS)?;
        let old_name = match containers.get(container.id.as_str())? {
            Some(bytes) => decode_container(&container.id, bytes.value())?.name,
            None => return Err(StoreError::NotFound(container.id.clone())),
        };
        if old_name != container.name {
            let mut names = self.txn.open_table(NAMES)?;
            if let Some(owner) = names.get(container.name.as_str())? {
                return Err(StoreError::NameInUse {
                    name: container.name.clone(),
                    id: owner.value().to_owned(),
                });
            }
            names.remove(old_name.as_str())?;
            names.insert(container.name.as_str(), container.id.as_str())?;
        }
        containers.insert(container.id.as_str(), container.encode_to_vec().as_slice())?;
        Ok(())
    }

    /// Removes a container and releases its name.
    pub fn remove_container(&mut self, id: &str) -> Result<(), StoreError> {
        let mut containers = self.txn.open_table(CONTAINERS)?;
        let name = match containers.remove(id)? {
            Some(bytes) => decode_container(id, bytes.value())?.name,
            None => return Err(StoreError::NotFound(id.to_owned())),
        };
        let mut names = self.txn.open_table(NAMES)?;
        let owned = names
            .get(name.as_str())?
            .is_some_and(|owner| owner.value() == id);
        if owned {
            names.remove(name.as_str())?;
        }
        Ok(())
    }

    /// Appends an event (keyed by its time) and drops the oldest beyond the history limit.
    pub fn append_event(&mut self, event: &Event) -> Result<EventKey, StoreError> {
        let key = {
            let mut last = self
                .store
                .last_event
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *last = EventKey::next(*last, timestamp_time(event.time.as_ref()));
            *last
        };
        let mut events = self.txn.open_table(EVENTS)?;
        events.insert(key.0, event.encode_to_vec().as_slice())?;
        let excess = events.len()?.saturating_sub(self.store.event_history);
        for _ in 0..excess {
            events.pop_first()?;
        }
        self.appended.push((key, event.clone()));
        Ok(key)
    }

    /// Commits every change; returns the appended events with their keys, oldest first.
    pub fn commit(self) -> Result<Vec<(EventKey, Event)>, StoreError> {
        self.txn.commit()?;
        Ok(self.appended)
    }
}
