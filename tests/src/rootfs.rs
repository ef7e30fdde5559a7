//! A minimal root filesystem made from Debian's static busybox: `/bin/busybox`, one symlink per
//! applet, `/etc/passwd`, `/etc/group` and a world-writable `/tmp`.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::error::{FixtureError, Result};

/// Where the static busybox comes from (Debian package `busybox-static`); `BERTH_TEST_BUSYBOX`
/// overrides it.
pub fn busybox_path() -> PathBuf {
    std::env::var_os("BERTH_TEST_BUSYBOX")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/bin/busybox"))
}

/// The applet names busybox reports, computed once per test process.
fn applets() -> Result<&'static [String]> {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    if let Some(list) = APPLETS.get() {
        return Ok(list);
    }
    let busybox = busybox_path();
    let out = Command::new(&busybox)
        .arg("--list")
        .output()
        .map_err(FixtureError::io(format!(
            "running {} --list",
            busybox.display()
        )))?;
    if !out.status.success() {
        return Err(FixtureError::Unexpected(format!(
            "{} --list failed; install busybox-static",
            busybox.display()
        )));
    }
    let list = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        // `busybox` itself is in the list; a link to itself would shadow the binary.
        .filter(|name| !name.is_empty() && *name != "busybox" && !name.contains('/'))
        .map(str::to_owned)
        .collect();
    Ok(APPLETS.get_or_init(|| list))
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n";

/// Fills `rootfs` (created if missing) with busybox, its applet links and the files above.
pub fn build_busybox_rootfs(rootfs: &Path) -> Result<()> {
    for dir in ["bin", "etc", "root", "proc", "sys", "dev", "tmp"] {
        let path = rootfs.join(dir);
        fs::create_dir_all(&path).map_err(FixtureError::io(format!("mkdir {}", path.display())))?;
    }
    let tmp = rootfs.join("tmp");
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777))
        .map_err(FixtureError::io("chmod rootfs /tmp"))?;

    let busybox = busybox_path();
    let target = rootfs.join("bin/busybox");
    fs::copy(&busybox, &target).map_err(FixtureError::io(format!(
        "copying {} (install busybox-static)",
        busybox.display()
    )))?;
    for applet in applets()? {
        let link = rootfs.join("bin").join(applet);
        symlink("busybox", &link)
            .map_err(FixtureError::io(format!("linking {}", link.display())))?;
    }

    for (name, content) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
        fs::write(rootfs.join(name), content)
            .map_err(FixtureError::io(format!("writing {name}")))?;
    }
    Ok(())
}
