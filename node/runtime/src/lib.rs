//! berth-runtime: turns an OCI bundle into an isolated process tree.

pub mod cgroups;
pub mod rootfs;
pub mod seccomp;
