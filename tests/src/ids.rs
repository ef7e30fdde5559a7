//! Unique names for containers and cgroups, so that parallel runs never collide and leftovers
//! from a crashed run can be found by their prefix.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Every container id made by the fixtures starts with this, followed by the run prefix.
pub const ID_PREFIX: &str = "bt";

/// Parent cgroup of every test container (`/berth-test/<id>`).
pub const CGROUP_PARENT: &str = "berth-test";

/// The prefix shared by all ids of this test process: `bt` + pid + a time salt.
pub fn run_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let salt = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos() & 0xffff)
            .unwrap_or(0);
        format!("{ID_PREFIX}{:x}{salt:04x}", std::process::id())
    })
}

/// A fresh container id: `<run prefix>-<label>-<counter>`.
pub fn unique_id(label: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{}-{label}-{n}", run_prefix())
}

/// The absolute `cgroupsPath` the fixtures give to a container.
pub fn cgroups_path_for(id: &str) -> String {
    format!("/{CGROUP_PARENT}/{id}")
}
