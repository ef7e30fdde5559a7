//! `cp`: copy files between a container and the local filesystem, as tar streams in chunks of
//! at most 1 MiB. `-` reads a tar from stdin or writes one to stdout.

use super::chunks::{download, upload, ChunkWriter, ReaderChunks, CHUNK_SIZE};
use crate::client::Clients;
use crate::error::Failure;
use anyhow::{Context, Result};
use berth_proto::node::v1::{
    copy_from_container_response, copy_to_container_request, CopyFromContainerRequest,
    CopyToContainerRequest, CopyToHeader, PathStat,
};
use clap::Args;
use std::io::Read;
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;
use tonic::Code;

const MODE_TYPE: u32 = 0o170000;
const MODE_DIRECTORY: u32 = 0o040000;

/// `cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-` or `cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`.
#[derive(Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short = 'a', long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// The source: a local path, `-`, or CONTAINER:PATH.
    source: String,
    /// The destination: a local path, `-`, or CONTAINER:PATH.
    destination: String,
}

/// One side of a copy.
#[derive(Debug, PartialEq, Eq)]
enum Location {
    Local(String),
    Container { container: String, path: String },
}

/// Docker's rule: an absolute or `.`-relative path is local; else `NAME:PATH` is in a container.
fn parse_location(arg: &str) -> Location {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Location::Local(arg.to_string());
    }
    match arg.split_once(':') {
        Some((container, path)) if !container.is_empty() => Location::Container {
            container: container.to_string(),
            path: path.to_string(),
        },
        _ => Location::Local(arg.to_string()),
    }
}

/// Copies in the direction the arguments give.
pub async fn cp(clients: &Clients, args: CpArgs) -> Result<i32> {
    match (
        parse_location(&args.source),
        parse_location(&args.destination),
    ) {
        (Location::Container { container, path }, Location::Local(destination)) => {
            copy_from(
                clients,
                &container,
                &absolute(&path),
                &destination,
                args.archive,
            )
            .await?
        }
        (Location::Local(source), Location::Container { container, path }) => {
            copy_to(
                clients,
                &container,
                &source,
                &absolute(&path),
                args.follow_link,
            )
            .await?
        }
        (Location::Container { .. }, Location::Container { .. }) => {
            return Err(Failure::new("copying between containers is not supported").into())
        }
        (Location::Local(_), Location::Local(_)) => {
            return Err(Failure::new("must specify at least one container source").into())
        }
    }
    Ok(0)
}

/// Container paths are relative to `/`.
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// Stats a container path: the first message of CopyFromContainer (the stream is then dropped).
async fn stat(clients: &Clients, container: &str, path: &str) -> Result<Option<PathStat>> {
    let request = CopyFromContainerRequest {
        id: container.to_string(),
        path: path.to_string(),
    };
    let mut stream = match clients.containers().copy_from_container(request).await {
        Ok(response) => response.into_inner(),
        Err(status) if status.code() == Code::NotFound && status.message().contains(path) => {
            return Ok(None)
        }
        Err(status) => return Err(status.into()),
    };
    match stream.message().await {
        Ok(Some(message)) => match message.response {
            Some(copy_from_container_response::Response::Stat(stat)) => Ok(Some(stat)),
            _ => Err(Failure::new("the daemon sent no stat for the path").into()),
        },
        Ok(None) => Ok(None),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) => Err(status.into()),
    }
}

fn is_directory(mode: u32) -> bool {
    mode & MODE_TYPE == MODE_DIRECTORY
}

fn base_name(path: &str) -> String {
    Path::new(path.trim_end_matches('/'))
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "/".to_string())
}

fn parent(path: &str) -> String {
    Path::new(path.trim_end_matches('/'))
        .parent()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".to_string())
}

/// Host to container.
async fn copy_to(
    clients: &Clients,
    container: &str,
    source: &str,
    destination: &str,
    follow: bool,
) -> Result<()> {
    let header = |path: String| CopyToContainerRequest {
        request: Some(copy_to_container_request::Request::Header(CopyToHeader {
            id: container.to_string(),
            path,
            no_overwrite_dir_non_dir: false,
        })),
    };
    let chunk = |data| CopyToContainerRequest {
        request: Some(copy_to_container_request::Request::Chunk(data)),
    };
    let mut client = clients.containers();
    if source == "-" {
        upload(
            ReaderChunks(tokio::io::stdin()),
            header(destination.to_string()),
            chunk,
            |s| client.copy_to_container(s),
        )
        .await?;
        return Ok(());
    }
    let metadata = if follow {
        std::fs::metadata(source)
    } else {
        std::fs::symlink_metadata(source)
    }
    .map_err(|e| Failure::new(format!("could not find the file {source} on the host: {e}")))?;
    let copy_contents = source.ends_with("/.") && metadata.is_dir();
    let (directory, root_name) = match stat(clients, container, destination).await? {
        Some(found) if is_directory(found.mode) => (
            destination.to_string(),
            if copy_contents {
                ".".to_string()
            } else {
                base_name(source)
            },
        ),
        Some(_) if metadata.is_dir() => {
            return Err(
                Failure::new(format!("cannot copy a directory to a file: {destination}")).into(),
            )
        }
        None if destination.ends_with('/') => {
            return Err(Failure::new(format!(
                "destination directory {destination} does not exist"
            ))
            .into())
        }
        _ => (parent(destination), base_name(destination)),
    };
    let source = if follow {
        std::fs::canonicalize(source)?
    } else {
        PathBuf::from(source)
    };
    let (writer, chunks) = ChunkWriter::new();
    let builder = tokio::task::spawn_blocking(move || write_tar(writer, &source, &root_name));
    upload(chunks, header(directory), chunk, |s| {
        client.copy_to_container(s)
    })
    .await?;
    builder.await?;
    Ok(())
}

/// Packs `source` as `root_name` into the writer; an error fails the upload with that error.
fn write_tar(writer: ChunkWriter, source: &Path, root_name: &str) {
    let failure = writer.failure_reporter();
    let pack = || -> std::io::Result<()> {
        let mut builder = tar::Builder::new(writer);
        builder.follow_symlinks(false);
        if source.is_dir() && !source.is_symlink() {
            builder.append_dir_all(root_name, source)?;
        } else {
            builder.append_path_with_name(source, root_name)?;
        }
        builder.into_inner()?.finish()
    };
    if let Err(error) = pack() {
        failure.report(error);
    }
}

/// Container to host.
async fn copy_from(
    clients: &Clients,
    container: &str,
    source: &str,
    destination: &str,
    archive: bool,
) -> Result<()> {
    let request = CopyFromContainerRequest {
        id: container.to_string(),
        path: source.to_string(),
    };
    let mut stream = clients
        .containers()
        .copy_from_container(request)
        .await?
        .into_inner();
    if destination == "-" {
        return download(stream, tokio::io::stdout(), |m| match m.response {
            Some(copy_from_container_response::Response::Chunk(data)) => Some(data),
            _ => None,
        })
        .await;
    }
    let stat = match stream.message().await?.and_then(|m| m.response) {
        Some(copy_from_container_response::Response::Stat(stat)) => stat,
        _ => return Err(Failure::new("the daemon sent no stat for the path").into()),
    };
    let target = Path::new(destination);
    let (directory, rename_to) = match std::fs::metadata(target) {
        Ok(found) if found.is_dir() => (target.to_path_buf(), None),
        Ok(_) if is_directory(stat.mode) => {
            return Err(
                Failure::new(format!("cannot copy a directory to a file: {destination}")).into(),
            )
        }
        Err(_) if destination.ends_with('/') => {
            return Err(Failure::new(format!(
                "destination directory {destination} does not exist"
            ))
            .into())
        }
        _ => (
            PathBuf::from(parent(destination)),
            Some(base_name(destination)),
        ),
    };
    let (sender, receiver) = mpsc::channel::<Vec<u8>>(4);
    let name = stat.name.clone();
    let extractor = tokio::task::spawn_blocking(move || {
        extract(receiver, &directory, &name, rename_to.as_deref(), archive)
    });
    while let Some(message) = stream.message().await? {
        if let Some(copy_from_container_response::Response::Chunk(data)) = message.response {
            if sender.send(data).await.is_err() {
                break;
            }
        }
    }
    drop(sender);
    extractor.await?
}

/// Reads a tar from chunks on a blocking thread.
struct ChunkReader {
    receiver: mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    offset: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.offset == self.current.len() {
            match self.receiver.blocking_recv() {
                Some(chunk) => {
                    self.current = chunk;
                    self.offset = 0;
                }
                None => return Ok(0),
            }
        }
        let count = out.len().min(self.current.len() - self.offset);
        out[..count].copy_from_slice(&self.current[self.offset..self.offset + count]);
        self.offset += count;
        Ok(count)
    }
}

/// Unpacks the tar into `directory`. Entries cannot escape it (`unpack_in` refuses `..`,
/// absolute paths and links out). With `rename_to`, the archive's root `name` is unpacked into
/// a fresh directory next to the target and then moved to its new name.
fn extract(
    receiver: mpsc::Receiver<Vec<u8>>,
    directory: &Path,
    name: &str,
    rename_to: Option<&str>,
    archive: bool,
) -> Result<()> {
    let reader = ChunkReader {
        receiver,
        current: Vec::with_capacity(CHUNK_SIZE),
        offset: 0,
    };
    let mut tar = tar::Archive::new(reader);
    tar.set_preserve_permissions(true);
    tar.set_preserve_ownerships(archive);
    tar.set_overwrite(true);
    let Some(new_name) = rename_to else {
        return unpack_all(&mut tar, directory);
    };
    let staging = directory.join(format!(".berthctl-cp-{}", std::process::id()));
    std::fs::create_dir(&staging).with_context(|| format!("creating {}", staging.display()))?;
    let result = unpack_all(&mut tar, &staging).and_then(|()| {
        let from = staging.join(name);
        let to = directory.join(new_name);
        std::fs::rename(&from, &to)
            .with_context(|| format!("moving {} to {}", from.display(), to.display()))
    });
    // The staging directory is empty after the move, or holds a failed copy.
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn unpack_all(tar: &mut tar::Archive<ChunkReader>, directory: &Path) -> Result<()> {
    for entry in tar.entries()? {
        let mut entry = entry?;
        entry
            .unpack_in(directory)
            .with_context(|| format!("extracting into {}", directory.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::chunks::ChunkSource;

    #[test]
    fn locations() {
        assert_eq!(
            parse_location("web:/etc/hosts"),
            Location::Container {
                container: "web".into(),
                path: "/etc/hosts".into()
            }
        );
        assert_eq!(
            parse_location("/tmp/a:b"),
            Location::Local("/tmp/a:b".into())
        );
        assert_eq!(parse_location("./a:b"), Location::Local("./a:b".into()));
        assert_eq!(parse_location("file"), Location::Local("file".into()));
        assert_eq!(parse_location("-"), Location::Local("-".into()));
        assert_eq!(parse_location(":x"), Location::Local(":x".into()));
    }

    #[test]
    fn path_parts() {
        assert_eq!(base_name("/etc/hosts"), "hosts");
        assert_eq!(base_name("/etc/"), "etc");
        assert_eq!(parent("/etc/hosts"), "/etc");
        assert_eq!(parent("/etc"), "/");
        assert_eq!(absolute("etc"), "/etc");
        assert!(is_directory(0o040755));
        assert!(!is_directory(0o100644));
    }

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..`; write the raw name to build a hostile archive.
            let name = header.as_old_mut().name.as_mut();
            name[..path.len()].copy_from_slice(path.as_bytes());
            header.set_cksum();
            builder.append(&header, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    fn feed(bytes: Vec<u8>) -> mpsc::Receiver<Vec<u8>> {
        let (sender, receiver) = mpsc::channel(bytes.len() / 100 + 2);
        for chunk in bytes.chunks(100) {
            sender.try_send(chunk.to_vec()).unwrap();
        }
        receiver
    }

    #[test]
    fn extraction_stays_inside_and_renames() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = tar_of(&[("hosts", b"127.0.0.1 localhost\n"), ("../escape", b"x")]);
        extract(feed(bytes.clone()), dir.path(), "hosts", None, false).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("hosts")).unwrap(),
            b"127.0.0.1 localhost\n"
        );
        assert!(!dir.path().parent().unwrap().join("escape").exists());
        extract(feed(bytes), dir.path(), "hosts", Some("copy"), false).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("copy")).unwrap(),
            b"127.0.0.1 localhost\n"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn packing_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        std::fs::create_dir_all(source.join("sub")).unwrap();
        std::fs::write(source.join("sub/file"), b"data").unwrap();
        let (writer, mut chunks) = ChunkWriter::new();
        let packer = std::thread::spawn(move || write_tar(writer, &source, "renamed"));
        let mut bytes = Vec::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        while let Some(chunk) = runtime.block_on(chunks.next_chunk()).unwrap() {
            bytes.extend(chunk);
        }
        packer.join().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        extract(feed(bytes), &out, "renamed", None, false).unwrap();
        assert_eq!(
            std::fs::read(out.join("renamed/sub/file")).unwrap(),
            b"data"
        );
    }
}
