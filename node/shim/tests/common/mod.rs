//! A container for shim tests: a busybox rootfs, Berth's default spec running the given
//! command, and a shim config in a temporary directory.

#![allow(dead_code)] // each test binary uses a different part

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use berth_shim::logs::{self, LogStream, ReadOptions};
use berth_shim::{
    launch, ExitRecord, IoEvent, IoReceiver, Launched, LogOptions, RuntimeChoice, ShimClient,
    ShimConfig,
};
use oci_spec::runtime::Spec;

/// The shim under test: this build's, or `BERTH_TEST_SHIM` (for measuring a release build).
pub fn shim_binary() -> PathBuf {
    std::env::var_os("BERTH_TEST_SHIM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_berth-shim")))
}

pub const RUNC: &str = "/usr/sbin/runc";

pub struct Container {
    pub dir: tempfile::TempDir,
    pub config: ShimConfig,
    pub spec: Spec,
}

impl Container {
    /// A container running `args`, on the builtin runtime.
    pub fn new(name: &str, args: &[&str]) -> Self {
        let dir = tempfile::Builder::new().prefix("shim").tempdir().unwrap();
        let id = format!("shimtest-{name}-{}", std::process::id());
        let bundle = dir.path().join("bundle");
        build_busybox_rootfs(&bundle.join("rootfs"));
        let mut spec = berth_runtime::spec::default_spec().unwrap();
        let process = spec.process_mut().as_mut().unwrap();
        process.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
        let linux = spec.linux_mut().as_mut().unwrap();
        linux.set_cgroups_path(Some(PathBuf::from(format!("/berth-shim-tests/{id}"))));
        let config = ShimConfig {
            id,
            bundle: bundle.clone(),
            rootfs: None,
            socket: dir.path().join("shims/c.sock"),
            log: LogOptions {
                path: bundle.join("container.log"),
                max_size: 10 << 20,
                max_files: 3,
            },
            exit_file: bundle.join("exit.json"),
            runtime: RuntimeChoice::Builtin,
            runtime_root: dir.path().join("runtime"),
            tty: false,
            open_stdin: false,
        };
        Container { dir, config, spec }
    }

    pub fn with_runc(mut self) -> Self {
        self.config.runtime = RuntimeChoice::Binary(RUNC.into());
        self
    }

    pub fn with_tty(mut self) -> Self {
        self.config.tty = true;
        self.spec
            .process_mut()
            .as_mut()
            .unwrap()
            .set_terminal(Some(true));
        self
    }

    /// Starts the container with a `wait` already registered, as the daemon does: a wait
    /// sent after the shim has gone gets `NotRunning` (the exit record then has the answer).
    pub async fn start(&self) -> tokio::task::JoinHandle<ExitRecord> {
        let client = self.client();
        let waiter = tokio::spawn(async move { client.wait().await.unwrap() });
        tokio::task::yield_now().await;
        self.client().start().await.unwrap();
        waiter
    }

    pub fn client(&self) -> ShimClient {
        ShimClient::new(&self.config.socket)
    }

    pub fn write_spec(&self) {
        fs::write(
            self.config.bundle.join("config.json"),
            serde_json::to_vec_pretty(&self.spec).unwrap(),
        )
        .unwrap();
    }

    /// Writes the spec and launches the shim.
    pub async fn launch(&self) -> Result<Launched, berth_shim::ShimError> {
        self.write_spec();
        launch(&shim_binary(), &self.config).await
    }

    /// The log's stdout and stderr text.
    pub fn log_text(&self) -> (String, String) {
        let mut out = (String::new(), String::new());
        for entry in logs::read(&self.config.log.path, &ReadOptions::default()).unwrap() {
            let text = String::from_utf8_lossy(&entry.data);
            match entry.stream {
                LogStream::Stdout => out.0.push_str(&text),
                LogStream::Stderr => out.1.push_str(&text),
            }
        }
        out
    }

    /// The shim is gone: no socket, no runtime state, exit record present.
    pub async fn assert_cleaned_up(&self) {
        for _ in 0..100 {
            if !self.config.socket.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(!self.config.socket.exists(), "socket left behind");
        let state = self.config.runtime_root.join(&self.config.id);
        assert!(!state.exists(), "runtime state left at {}", state.display());
        assert!(self.config.exit_file.exists(), "no exit record");
    }
}

impl Drop for Container {
    /// A test that failed half-way leaves its container running: kill it through the shim
    /// (synchronously, as Drop cannot await), so the shim cleans up and exits.
    fn drop(&mut self) {
        use berth_shim::protocol::{encode_json, FrameKind, Request};
        if std::thread::panicking() {
            let log = fs::read_to_string(self.config.bundle.join(berth_shim::SHIM_LOG_FILE));
            eprintln!(
                "shim.log of {}:\n{}",
                self.config.id,
                log.unwrap_or_default()
            );
        }
        use std::io::{Read, Write};
        let Ok(mut stream) = std::os::unix::net::UnixStream::connect(&self.config.socket) else {
            return;
        };
        let mut frame = Vec::new();
        encode_json(
            FrameKind::Request,
            &Request::Signal {
                signal: 9,
                all: true,
            },
            &mut frame,
        );
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        if stream.write_all(&frame).is_ok() {
            let _ = stream.read(&mut [0u8; 256]);
        }
        // Wait for the shim to finish, so the temporary directory outlives it.
        for _ in 0..250 {
            if !self.config.socket.exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Waits until the log's stdout contains `needle`.
pub async fn wait_for_log(c: &Container, needle: &str) {
    for _ in 0..250 {
        if c.log_text().0.contains(needle) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{needle:?} never reached the log");
}

/// Collects a session's output until its exit event: (stdout, stderr, exit code).
pub async fn collect(receiver: &mut IoReceiver) -> (String, String, Option<i32>) {
    let mut out = (String::new(), String::new(), None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let event = tokio::time::timeout_at(deadline, receiver.next())
            .await
            .expect("session timed out")
            .unwrap();
        match event {
            Some(IoEvent::Stdout(data)) => out.0.push_str(&String::from_utf8_lossy(&data)),
            Some(IoEvent::Stderr(data)) => out.1.push_str(&String::from_utf8_lossy(&data)),
            Some(IoEvent::Exit(code)) => out.2 = Some(code),
            None => return out,
        }
    }
}

/// Reads until `needle` appears in stdout (or the session ends); returns what was read.
pub async fn read_until(receiver: &mut IoReceiver, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains(needle) {
        let event = tokio::time::timeout_at(deadline, receiver.next())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {needle:?}; saw {seen:?}"))
            .unwrap();
        match event {
            Some(IoEvent::Stdout(data)) | Some(IoEvent::Stderr(data)) => {
                seen.push_str(&String::from_utf8_lossy(&data))
            }
            other => panic!("session ended ({other:?}) before {needle:?}; saw {seen:?}"),
        }
    }
    seen
}

fn build_busybox_rootfs(rootfs: &Path) {
    for dir in ["bin", "etc", "root", "proc", "sys", "dev", "tmp"] {
        fs::create_dir_all(rootfs.join(dir)).unwrap();
    }
    fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::copy("/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim();
        if !applet.is_empty() && applet != "busybox" && !applet.contains('/') {
            symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
        }
    }
    fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(rootfs.join("etc/group"), "root:x:0:\ntty:x:5:\n").unwrap();
}
