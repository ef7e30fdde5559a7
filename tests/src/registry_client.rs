//! What the registry tests drive berthd with: `berthctl` under a private `HOME` (its
//! `~/.berth/config.json` and `~/.docker/config.json`), the PullImage and PushImage streams
//! over gRPC, and a fingerprint of the image store to show a failed pull kept nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use berth_proto::node::v1::{
    image_service_client::ImageServiceClient, pull_image_response, push_image_response,
    LayerProgress, ListImagesRequest, PullImageRequest, PullImageResult, PushImageRequest,
    PushImageResult, RegistryAuth,
};
use berth_proto::transport::connect_unix;
use tokio_stream::StreamExt;

use crate::command::{run_captured, spawn_captured_with_stdin, CmdOutput, DEFAULT_TIMEOUT};
use crate::daemon::Daemon;
use crate::registry::Login;
use crate::runtime::sibling_binary;

/// A berthctl user with their own home directory.
pub struct CtlUser {
    home: tempfile::TempDir,
    host: String,
}

impl CtlUser {
    /// A user of `daemon` whose `HOME` is a fresh temporary directory.
    pub fn new(daemon: &Daemon) -> Self {
        let home = tempfile::Builder::new()
            .prefix("berth-home-")
            .tempdir()
            .unwrap_or_else(|err| panic!("creating a HOME: {err}"));
        Self {
            home,
            host: daemon.host(),
        }
    }

    /// The user's `HOME`.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `~/.berth/config.json`, where `berthctl login` stores credentials.
    pub fn berth_config(&self) -> PathBuf {
        self.home().join(".berth/config.json")
    }

    /// Writes `~/.docker/config.json` with `login` for `registry` as Docker does (base64
    /// `user:password` in `auth`).
    pub fn write_docker_config(&self, registry: &str, login: &Login) {
        use base64::Engine;
        let auth = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", login.username, login.password));
        let config = serde_json::json!({"auths": {registry: {"auth": auth}}});
        let dir = self.home().join(".docker");
        fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("mkdir ~/.docker: {err}"));
        fs::write(dir.join("config.json"), config.to_string())
            .unwrap_or_else(|err| panic!("writing ~/.docker/config.json: {err}"));
    }

    /// Installs `docker-credential-<helper>` in the user's `~/bin` (on berthctl's PATH), a
    /// credential helper that answers `get` for `registry` with `login`, and names it in
    /// `~/.docker/config.json` under `credHelpers`.
    pub fn install_credential_helper(&self, helper: &str, registry: &str, login: &Login) {
        use std::os::unix::fs::PermissionsExt;
        let bin = self.home().join("bin");
        fs::create_dir_all(&bin).unwrap_or_else(|err| panic!("mkdir ~/bin: {err}"));
        let answer = serde_json::json!({
            "ServerURL": registry, "Username": login.username, "Secret": login.password,
        });
        let script = format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n\
             [ \"$server\" = '{registry}' ] || {{ echo 'credentials not found'; exit 1; }}\n\
             echo '{answer}'\n"
        );
        let path = bin.join(format!("docker-credential-{helper}"));
        fs::write(&path, script).unwrap_or_else(|err| panic!("writing the helper: {err}"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|err| panic!("chmod the helper: {err}"));
        let config = serde_json::json!({"credHelpers": {registry: helper}});
        let dir = self.home().join(".docker");
        fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("mkdir ~/.docker: {err}"));
        fs::write(dir.join("config.json"), config.to_string())
            .unwrap_or_else(|err| panic!("writing ~/.docker/config.json: {err}"));
    }

    fn command(&self, args: &[&str]) -> Command {
        let binary = sibling_binary("berthctl").unwrap_or_else(|err| panic!("{err}"));
        let mut command = Command::new(binary);
        let path = std::env::var("PATH").unwrap_or_default();
        command
            .env("HOME", self.home())
            .env(
                "PATH",
                format!("{}:{path}", self.home().join("bin").display()),
            )
            .env_remove("DOCKER_CONFIG")
            .env_remove("BERTH_CONFIG")
            .arg("-H")
            .arg(&self.host)
            .args(args);
        command
    }

    fn capture_dir(&self) -> PathBuf {
        let dir = self.home().join(".capture");
        fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("mkdir capture: {err}"));
        dir
    }

    /// Runs `berthctl ARGS` as this user with stdin closed.
    pub fn ctl(&self, args: &[&str]) -> CmdOutput {
        run_captured(self.command(args), &self.capture_dir(), DEFAULT_TIMEOUT)
            .unwrap_or_else(|err| panic!("berthctl {args:?}: {err}"))
    }

    /// Runs `berthctl ARGS` as this user with `input` on stdin.
    pub fn ctl_stdin(&self, args: &[&str], input: &[u8]) -> CmdOutput {
        let path = self.capture_dir().join("stdin");
        fs::write(&path, input).unwrap_or_else(|err| panic!("writing stdin: {err}"));
        let file = fs::File::open(&path).unwrap_or_else(|err| panic!("stdin: {err}"));
        spawn_captured_with_stdin(self.command(args), Stdio::from(file), &self.capture_dir())
            .and_then(|spawned| spawned.finish(DEFAULT_TIMEOUT))
            .unwrap_or_else(|err| panic!("berthctl {args:?}: {err}"))
    }

    /// `berthctl login -u USER --password-stdin REGISTRY`.
    pub fn login(&self, registry: &str, login: &Login) -> CmdOutput {
        self.ctl_stdin(
            &["login", "-u", &login.username, "--password-stdin", registry],
            format!("{}\n", login.password).as_bytes(),
        )
    }

    /// `berthctl ARGS` as this user, asserting success; returns trimmed stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        out.assert_success();
        out.stdout.trim().to_owned()
    }
}

/// The credentials message of a gRPC request.
pub fn auth_of(login: &Login) -> RegistryAuth {
    RegistryAuth {
        username: login.username.clone(),
        password: login.password.clone(),
        ..Default::default()
    }
}

/// What a PullImage stream delivered.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// Every progress message, in order.
    pub progress: Vec<LayerProgress>,
    /// The final result.
    pub result: PullImageResult,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|err| panic!("a tokio runtime: {err}"))
}

async fn client(daemon: &Daemon) -> ImageServiceClient<tonic::transport::Channel> {
    let channel = connect_unix(daemon.socket())
        .await
        .unwrap_or_else(|err| panic!("connecting to berthd: {err}"));
    ImageServiceClient::new(channel)
}

/// Calls PullImage and reads the stream to its end: the result, or the status it failed with.
pub fn pull(daemon: &Daemon, request: PullImageRequest) -> Result<Pulled, tonic::Status> {
    runtime().block_on(async {
        let mut stream = client(daemon).await.pull_image(request).await?.into_inner();
        let mut progress = Vec::new();
        while let Some(message) = stream.next().await {
            match message?.response {
                Some(pull_image_response::Response::Progress(p)) => progress.push(p),
                Some(pull_image_response::Response::Result(result)) => {
                    return Ok(Pulled { progress, result });
                }
                None => {}
            }
        }
        Err(tonic::Status::internal(
            "the pull stream ended without a result",
        ))
    })
}

/// PullImage of `reference`, anonymous, for the daemon's platform.
pub fn pull_ref(daemon: &Daemon, reference: &str) -> Result<Pulled, tonic::Status> {
    pull(
        daemon,
        PullImageRequest {
            reference: reference.to_owned(),
            ..Default::default()
        },
    )
}

/// Calls PushImage and reads the stream: the progress and result, or the failure status.
pub fn push(
    daemon: &Daemon,
    request: PushImageRequest,
) -> Result<(Vec<LayerProgress>, PushImageResult), tonic::Status> {
    runtime().block_on(async {
        let mut stream = client(daemon).await.push_image(request).await?.into_inner();
        let mut progress = Vec::new();
        while let Some(message) = stream.next().await {
            match message?.response {
                Some(push_image_response::Response::Progress(p)) => progress.push(p),
                Some(push_image_response::Response::Result(result)) => {
                    return Ok((progress, result));
                }
                None => {}
            }
        }
        Err(tonic::Status::internal(
            "the push stream ended without a result",
        ))
    })
}

/// The images in the store through ListImages, as sorted `id tag,tag…` lines.
pub fn image_rows(daemon: &Daemon) -> Vec<String> {
    runtime().block_on(async {
        let mut rows: Vec<String> = client(daemon)
            .await
            .list_images(ListImagesRequest::default())
            .await
            .unwrap_or_else(|status| panic!("ListImages: {status}"))
            .into_inner()
            .images
            .into_iter()
            .map(|image| format!("{} {}", image.id, image.repo_tags.join(",")))
            .collect();
        rows.sort();
        rows
    })
}

/// What the image store holds on disk and in its index: blob files, in-flight ingests,
/// snapshot directories, and image IDs with their tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFingerprint {
    /// `content/blobs/sha256/*`.
    pub blobs: Vec<String>,
    /// `content/ingest/*`.
    pub ingest: Vec<String>,
    /// `snapshots/*`.
    pub snapshots: Vec<String>,
    /// [`image_rows`].
    pub images: Vec<String>,
}

impl StoreFingerprint {
    /// Takes the fingerprint of `daemon`'s store.
    pub fn of(daemon: &Daemon) -> Self {
        let root = daemon.root();
        Self {
            blobs: names(&root.join("content/blobs/sha256")),
            ingest: names(&root.join("content/ingest")),
            snapshots: names(&root.join("snapshots")),
            images: image_rows(daemon),
        }
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_helper_answers_for_its_registry_only() {
        let user = CtlUser {
            home: tempfile::tempdir().unwrap(),
            host: String::new(),
        };
        let login = Login::new("helper-user", "helper secret");
        user.install_credential_helper("t", "127.0.0.1:5999", &login);
        let helper = user.home().join("bin/docker-credential-t");
        let ask = |server: &str| {
            let mut child = Command::new(&helper)
                .arg("get")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            writeln!(child.stdin.take().unwrap(), "{server}").unwrap();
            child.wait_with_output().unwrap()
        };
        let out = ask("127.0.0.1:5999");
        assert!(out.status.success());
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(answer["Username"], "helper-user");
        assert_eq!(answer["Secret"], "helper secret");
        assert!(!ask("other:1").status.success());
        let config = fs::read_to_string(user.home().join(".docker/config.json")).unwrap();
        assert!(
            config.contains(r#""credHelpers":{"127.0.0.1:5999":"t"}"#),
            "{config}"
        );
    }
}
