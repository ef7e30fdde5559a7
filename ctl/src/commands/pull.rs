//! `pull`, and the pull `run`/`create` do for a missing image.

use anyhow::Result;
use berth_proto::node::v1::{pull_image_response, PullImageRequest, PullImageResult};
use clap::Args;

use super::image_name::ImageName;
use crate::client::Clients;
use crate::credentials;
use crate::error::Failure;
use crate::output::progress::{follow_transfer, ProgressView, Stream, Transfer, TransferMessage};

/// `pull [OPTIONS] NAME[:TAG|@DIGEST]`.
#[derive(Args)]
pub struct PullArgs {
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    platform: Option<String>,
    /// Suppress verbose output.
    #[arg(short, long)]
    quiet: bool,
    /// The image.
    image: String,
}

/// How a pull reports.
#[derive(Debug, Clone, Copy)]
pub struct PullOutput {
    /// Where the lines and bars go.
    pub stream: Stream,
    /// Only the reference at the end (`pull -q`).
    pub quiet: bool,
    /// End with the full reference (`pull` does; `run` does not).
    pub reference_line: bool,
}

/// Pulls an image, printing Docker's progress.
pub async fn pull(clients: &Clients, args: PullArgs) -> Result<i32> {
    let output = PullOutput {
        stream: Stream::Stdout,
        quiet: args.quiet,
        reference_line: true,
    };
    pull_image(
        clients,
        &args.image,
        args.platform.as_deref().unwrap_or(""),
        output,
    )
    .await?;
    Ok(0)
}

/// Pulls `image` with the stored credentials of its registry.
pub async fn pull_image(
    clients: &Clients,
    image: &str,
    platform: &str,
    output: PullOutput,
) -> Result<PullImageResult> {
    let name = ImageName::parse(image);
    let auth = credentials::for_registry(&name.domain)?;
    let say = |line: String| match output.stream {
        Stream::Stdout => println!("{line}"),
        Stream::Stderr => eprintln!("{line}"),
    };
    if !output.quiet {
        say(format!(
            "{}: Pulling from {}",
            name.tag_or_digest(),
            name.path
        ));
    }
    let request = PullImageRequest {
        reference: image.to_string(),
        auth,
        platform: platform.to_string(),
    };
    let responses = clients.images().pull_image(request).await?.into_inner();
    let view = (!output.quiet).then(|| ProgressView::new(Transfer::Pull, output.stream));
    let result = follow_transfer(responses, view, |m| match m.response? {
        pull_image_response::Response::Progress(p) => Some(TransferMessage::Progress(p)),
        pull_image_response::Response::Result(r) => Some(TransferMessage::Done(r)),
    })
    .await?;
    let result =
        result.ok_or_else(|| Failure::new("the daemon ended the pull without a result"))?;
    for line in closing_lines(&name, &result, output) {
        say(line);
    }
    Ok(result)
}

/// What Docker prints after the layers: the digest, the status and the full reference.
fn closing_lines(name: &ImageName, result: &PullImageResult, output: PullOutput) -> Vec<String> {
    let mut lines = Vec::new();
    if !output.quiet {
        lines.push(format!("Digest: {}", result.digest));
        lines.push(if result.up_to_date {
            format!("Status: Image is up to date for {}", name.familiar())
        } else {
            format!("Status: Downloaded newer image for {}", name.familiar())
        });
    }
    if output.reference_line {
        lines.push(name.full());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_lines_are_dockers() {
        let name = ImageName::parse("busybox");
        let mut result = PullImageResult {
            digest: "sha256:abc".into(),
            ..PullImageResult::default()
        };
        let pull = PullOutput {
            stream: Stream::Stdout,
            quiet: false,
            reference_line: true,
        };
        assert_eq!(
            closing_lines(&name, &result, pull),
            [
                "Digest: sha256:abc",
                "Status: Downloaded newer image for busybox:latest",
                "docker.io/library/busybox:latest"
            ]
        );
        result.up_to_date = true;
        let run = PullOutput {
            stream: Stream::Stderr,
            quiet: false,
            reference_line: false,
        };
        assert_eq!(
            closing_lines(&name, &result, run),
            [
                "Digest: sha256:abc",
                "Status: Image is up to date for busybox:latest"
            ]
        );
        let quiet = PullOutput {
            quiet: true,
            ..pull
        };
        assert_eq!(
            closing_lines(&name, &result, quiet),
            ["docker.io/library/busybox:latest"]
        );
    }
}
