//! berthd: the node daemon. gRPC handlers stay thin (validate, call the domain, map errors);
//! the domain modules know nothing about tonic.
//!
//! - [`config`]: flags and the TOML file; [`logging`]: tracing output.
//! - [`daemon`]: startup, recovery and shutdown.
//! - [`container`], [`images`], [`system`]: the domain; [`events`]: the event bus.
//! - [`server`]: the gRPC services, health and reflection, and the one error mapping.
//! - [`spec`]: the OCI runtime spec builder.

pub mod config;
pub mod container;
pub mod context;
pub mod daemon;
pub mod error;
pub mod events;
pub mod fsutil;
pub mod host;
pub mod images;
pub mod logging;
pub mod pagination;
pub mod paths;
pub mod server;
pub mod spec;
pub mod stream_io;
pub mod system;
pub mod time;
