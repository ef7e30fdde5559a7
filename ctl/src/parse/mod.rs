//! Parsers of flag values. Each returns a one-line message on bad input, checked before any RPC.

pub mod cpus;
pub mod cpuset;
pub mod env;
pub mod mount;
pub mod restart;
pub mod signal;
pub mod size;
pub mod time;
pub mod ulimit;
