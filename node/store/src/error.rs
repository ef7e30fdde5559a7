//! Why a store operation failed.

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another container already has the name.
    #[error("the name {name:?} is already in use by container {id}")]
    NameInUse {
        /// The name.
        name: String,
        /// The container that has it.
        id: String,
    },
    /// A container with this ID already exists.
    #[error("container {0} already exists")]
    IdInUse(String),
    /// No container has this ID.
    #[error("no such container: {0}")]
    NotFound(String),
    /// A stored record does not decode.
    #[error("corrupt record {key}: {source}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// The decoding error.
        source: prost::DecodeError,
    },
    /// The database failed.
    #[error("metadata store: {0}")]
    Database(#[from] redb::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => {
        $(impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                Self::Database(e.into())
            }
        })*
    };
}

from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
