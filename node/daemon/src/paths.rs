//! Where the daemon keeps things (the on-disk layout).

use std::path::{Path, PathBuf};

/// The daemon's directories and the per-container paths under them.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `--root`.
    pub root: PathBuf,
    /// `--exec-root`.
    pub exec_root: PathBuf,
}

impl Paths {
    /// The metadata database.
    pub fn database(&self) -> PathBuf {
        self.root.join("meta.redb")
    }

    /// The directory holding every container's directory.
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// The runtime's state directory.
    pub fn runtime_root(&self) -> PathBuf {
        self.exec_root.join("runtime")
    }

    /// The directory of the shims' sockets.
    pub fn shims(&self) -> PathBuf {
        self.exec_root.join("shims")
    }

    /// The paths of one container.
    pub fn container(&self, id: &str) -> ContainerPaths {
        ContainerPaths {
            dir: self.containers().join(id),
            socket: self.shims().join(format!("{id}.sock")),
        }
    }
}

/// The files of one container.
#[derive(Debug, Clone)]
pub struct ContainerPaths {
    /// `containers/<id>`: the OCI bundle.
    pub dir: PathBuf,
    /// The shim's socket.
    pub socket: PathBuf,
}

impl ContainerPaths {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The overlay mountpoint.
    pub fn rootfs(&self) -> PathBuf {
        self.file("rootfs")
    }
    /// The writable layer.
    pub fn upper(&self) -> PathBuf {
        self.file("upper")
    }
    /// overlayfs's work directory.
    pub fn work(&self) -> PathBuf {
        self.file("work")
    }
    /// The runtime spec.
    pub fn config_json(&self) -> PathBuf {
        self.file("config.json")
    }
    /// The JSON log.
    pub fn log(&self) -> PathBuf {
        self.file("container.log")
    }
    /// The exit record the shim writes.
    pub fn exit_file(&self) -> PathBuf {
        self.file("exit.json")
    }
    /// `/etc/hostname`.
    pub fn hostname(&self) -> PathBuf {
        self.file("hostname")
    }
    /// `/etc/hosts`.
    pub fn hosts(&self) -> PathBuf {
        self.file("hosts")
    }
    /// `/etc/resolv.conf`.
    pub fn resolv_conf(&self) -> PathBuf {
        self.file("resolv.conf")
    }
    /// The container's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
