//! A berthd process on temporary directories, and gRPC clients for it over its unix socket.
#![allow(clippy::unwrap_used, dead_code)] // test helpers; not every test binary uses each one

use std::{
    os::unix::fs::FileTypeExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use berth_proto::node::v1::{
    container_service_client::ContainerServiceClient, image_service_client::ImageServiceClient,
    import_image_request, system_service_client::SystemServiceClient, ImportImageHeader,
    ImportImageRequest,
};
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

/// A test daemon; dropping it removes its containers, stops it and cleans up.
pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    extra_args: Vec<String>,
}

impl TestDaemon {
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts berthd with extra flags.
    pub fn start_with(extra_args: &[String]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berthd-it-")
            .tempdir()
            .unwrap();
        let mut daemon = Self {
            dir,
            child: None,
            extra_args: extra_args.to_vec(),
        };
        daemon.spawn();
        daemon
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn exec_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    pub fn socket(&self) -> PathBuf {
        self.exec_root().join("berthd.sock")
    }

    /// The cgroup the daemon puts containers under, unique to this test.
    pub fn cgroup_parent(&self) -> String {
        let tag = self
            .dir
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        format!("/{tag}")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("berthd.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let shim = berth_tests::runtime::sibling_binary("berth-shim").unwrap();
        assert!(
            shim.exists(),
            "{} is missing: build it first (cargo build -p berth-shim)",
            shim.display()
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("berthd.log"))
            .unwrap();
        // A crashed daemon leaves its socket; wait for the new one, not the stale one.
        let _ = std::fs::remove_file(self.socket());
        let child = Command::new(env!("CARGO_BIN_EXE_berthd"))
            .arg("--root")
            .arg(self.root())
            .arg("--exec-root")
            .arg(self.exec_root())
            .arg("-H")
            .arg(format!("unix://{}", self.socket().display()))
            .arg("--shim")
            .arg(shim)
            .arg("--cgroup-parent")
            .arg(self.cgroup_parent())
            .args(["--log-level", "berthd=debug,info"])
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while !std::fs::metadata(self.socket()).is_ok_and(|m| m.file_type().is_socket()) {
            assert!(
                Instant::now() < deadline,
                "berthd did not listen:\n{}",
                self.log()
            );
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("berthd exited with {status}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, as a crash.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM; returns the exit status.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        Some(child.wait().unwrap())
    }

    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Starts the daemon again after [`TestDaemon::kill9`].
    pub fn restart_after_kill(&mut self) {
        self.spawn();
    }

    pub async fn channel(&self) -> Channel {
        channel(&self.socket()).await
    }

    pub async fn containers(&self) -> ContainerServiceClient<Channel> {
        ContainerServiceClient::new(self.channel().await)
    }

    pub async fn images(&self) -> ImageServiceClient<Channel> {
        ImageServiceClient::new(self.channel().await)
    }

    pub async fn system(&self) -> SystemServiceClient<Channel> {
        SystemServiceClient::new(self.channel().await)
    }

    /// Imports a busybox rootfs as `busybox`; returns the image ID.
    pub async fn import_busybox(&self) -> String {
        let scratch = self.dir.path().join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        let tar = berth_tests::daemon::busybox_tar(&scratch).unwrap();
        import(
            &mut self.images().await,
            &std::fs::read(tar).unwrap(),
            "busybox",
        )
        .await
        .unwrap()
    }
}

/// Imports tar bytes as `reference`.
pub async fn import(
    client: &mut ImageServiceClient<Channel>,
    tar: &[u8],
    reference: &str,
) -> Result<String, tonic::Status> {
    let mut messages = vec![ImportImageRequest {
        request: Some(import_image_request::Request::Header(ImportImageHeader {
            reference: reference.to_owned(),
            ..ImportImageHeader::default()
        })),
    }];
    for chunk in tar.chunks(256 * 1024) {
        messages.push(ImportImageRequest {
            request: Some(import_image_request::Request::Chunk(chunk.to_vec())),
        });
    }
    let response = client
        .import_image(tokio_stream::iter(messages))
        .await?
        .into_inner();
    Ok(response.image.unwrap().id)
}

/// A channel over a unix socket.
pub async fn channel(socket: &Path) -> Channel {
    let socket = socket.to_owned();
    Endpoint::try_from("http://[::]:0")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move {
                Ok::<_, std::io::Error>(TokioIo::new(
                    tokio::net::UnixStream::connect(socket).await?,
                ))
            }
        }))
        .await
        .unwrap()
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            let socket = self.socket();
            // Remove every container through the API so no shim, mount or cgroup is left.
            let cleanup = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let mut client = ContainerServiceClient::new(channel(&socket).await);
                    let list = client
                        .list_containers(berth_proto::node::v1::ListContainersRequest {
                            all: true,
                            ..Default::default()
                        })
                        .await;
                    for c in list.map(|r| r.into_inner().containers).unwrap_or_default() {
                        let _ = client
                            .remove_container(berth_proto::node::v1::RemoveContainerRequest {
                                id: c.id,
                                force: true,
                                remove_volumes: false,
                            })
                            .await;
                    }
                });
            });
            let _ = cleanup.join();
            let _ = self.terminate();
        }
        let _ = berth_tests::mounts::detach_mounts_under(self.dir.path());
        // The containers' cgroups are gone with them; the parent is the test's to remove.
        let parent = self.cgroup_parent();
        let hierarchies = std::fs::read_dir("/sys/fs/cgroup")
            .into_iter()
            .flatten()
            .flatten();
        for hierarchy in hierarchies
            .map(|h| h.path())
            .chain([PathBuf::from("/sys/fs/cgroup")])
        {
            let _ = std::fs::remove_dir(hierarchy.join(parent.trim_start_matches('/')));
        }
    }
}
