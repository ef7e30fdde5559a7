//! The tables this crate owns in the shared database.

use redb::TableDefinition;

/// Container ID → prost-encoded `berth.node.v1.Container`.
pub(crate) const CONTAINERS: TableDefinition<&str, &[u8]> = TableDefinition::new("containers");

/// Container name → container ID; a name has at most one owner.
pub(crate) const NAMES: TableDefinition<&str, &str> = TableDefinition::new("container_names");

/// [`crate::EventKey`] → prost-encoded `berth.node.v1.Event`, oldest first.
pub(crate) const EVENTS: TableDefinition<u128, &[u8]> = TableDefinition::new("events");
