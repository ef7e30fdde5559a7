//! Berth's metadata store: containers, their unique names and the event history, in the
//! daemon's redb database (`<root>/meta.redb`).
//!
//! Every change goes through a [`WriteBatch`], one redb write transaction: a container record,
//! its name and the events it causes are committed together or not at all, so the store is
//! consistent after a crash at any point. The image store keeps its own tables in the same
//! database ([`Store::database`]).

mod batch;
mod error;
mod events;
mod tables;

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::SystemTime,
};

use berth_proto::node::v1::{Container, Event};
use prost::Message;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata};

pub use batch::WriteBatch;
pub use error::StoreError;
pub use events::{EventKey, DEFAULT_EVENT_HISTORY};

use tables::{CONTAINERS, EVENTS, NAMES};

/// The metadata store.
pub struct Store {
    db: Arc<Database>,
    /// The key of the newest event, so keys stay strictly increasing even when the clock
    /// repeats or steps back.
    last_event: Mutex<EventKey>,
    /// How many events are kept; older ones are dropped as new ones arrive.
    event_history: u64,
}

impl Store {
    /// Opens (or creates) the database at `path` and its tables, keeping at most
    /// `event_history` events.
    pub fn open(path: &Path, event_history: u64) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(CONTAINERS)?;
        txn.open_table(NAMES)?;
        let last_event = {
            let events = txn.open_table(EVENTS)?;
            let last = events.last()?.map(|(key, _)| EventKey(key.value()));
            last.unwrap_or(EventKey(0))
        };
        txn.commit()?;
        Ok(Self {
            db: Arc::new(db),
            last_event: Mutex::new(last_event),
            event_history: event_history.max(1),
        })
    }

    /// The database, shared with the image store.
    pub fn database(&self) -> Arc<Database> {
        Arc::clone(&self.db)
    }

    /// Starts a write transaction. Only one is open at a time; others wait for it.
    pub fn write(&self) -> Result<WriteBatch<'_>, StoreError> {
        Ok(WriteBatch::new(self, self.db.begin_write()?))
    }

    /// One container by full ID.
    pub fn container(&self, id: &str) -> Result<Option<Container>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CONTAINERS)?;
        let guard = table.get(id)?;
        guard
            .map(|bytes| decode_container(id, bytes.value()))
            .transpose()
    }

    /// Every container, in ID order.
    pub fn containers(&self) -> Result<Vec<Container>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(CONTAINERS)?;
        let mut all = Vec::new();
        for item in table.iter()? {
            let (key, value) = item?;
            all.push(decode_container(key.value(), value.value())?);
        }
        Ok(all)
    }

    /// The ID of the container that has `name`, if any.
    pub fn name_owner(&self, name: &str) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(NAMES)?;
        Ok(table.get(name)?.map(|id| id.value().to_owned()))
    }

    /// The stored events at or after `since` (all with `None`), oldest first, with their keys.
    pub fn events_since(
        &self,
        since: Option<SystemTime>,
    ) -> Result<Vec<(EventKey, Event)>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(EVENTS)?;
        let start = since.map_or(0, |t| EventKey::first_at(t).0);
        let mut events = Vec::new();
        for item in table.range(start..)? {
            let (key, value) = item?;
            let event = Event::decode(value.value()).map_err(|source| StoreError::Corrupt {
                key: key.value().to_string(),
                source,
            })?;
            events.push((EventKey(key.value()), event));
        }
        Ok(events)
    }

    /// How many events are stored.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(EVENTS)?.len()?)
    }
}

fn decode_container(id: &str, bytes: &[u8]) -> Result<Container, StoreError> {
    Container::decode(bytes).map_err(|source| StoreError::Corrupt {
        key: id.to_owned(),
        source,
    })
}
