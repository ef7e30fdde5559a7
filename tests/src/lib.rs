//! Fixtures shared by Berth's end-to-end tests: busybox bundles, runtime drivers and host
//! inspection, runtime-agnostic so that the same suite runs against `berth-runtime` and runc
//! (`BERTH_TEST_RUNTIME=/usr/sbin/runc`); registries for the image tests (Debian's docker-registry
//! seeded by skopeo, and a fake one for bad input).

pub mod bundle;
pub mod cgroup;
pub mod command;
pub mod console;
pub mod daemon;
pub mod env;
pub mod error;
pub mod fake_registry;
pub mod ids;
pub mod mounts;
pub mod oci_layout;
pub mod procfs;
pub mod registry;
pub mod registry_client;
pub mod rootfs;
pub mod runtime;
pub mod spec;
pub mod wait;

pub use bundle::Bundle;
pub use command::CmdOutput;
pub use console::{ConsoleSocket, Pty};
pub use daemon::Daemon;
pub use env::{ContainerState, TestEnv};
pub use error::{FixtureError, Result};
pub use fake_registry::FakeRegistry;
pub use registry::Registry;
pub use runtime::Runtime;
