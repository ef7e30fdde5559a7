//! `pull`, and the pull `run`/`create` do for a missing image.

use anyhow::Result;
use berth_proto::node::v1::{pull_image_response, PullImageRequest, PullImageResult};
use clap::Args;

use super::image_name::ImageName;
use crate::client::Clients;
use crate::credentials;
use crate::error::Failure;
use crate::output::progress::{ProgressView, Stream, Transfer};

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
    let mut responses = clients.images().pull_image(request).await?.into_inner();
    let mut view = (!output.quiet).then(|| ProgressView::new(Transfer::Pull, output.stream));
    let mut result = None;
    while let Some(message) = responses.message().await? {
        match message.response {
            Some(pull_image_response::Response::Progress(p)) => {
                if let Some(view) = view.as_mut() {
                    view.update(&p);
                }
            }
            Some(pull_image_response::Response::Result(r)) => result = Some(r),
            None => {}
        }
    }
    if let Some(view) = view {
        view.finish();
    }
    let result =
        result.ok_or_else(|| Failure::new("the daemon ended the pull without a result"))?;
    if !output.quiet {
        say(format!("Digest: {}", result.digest));
        say(if result.up_to_date {
            format!("Status: Image is up to date for {}", name.familiar())
        } else {
            format!("Status: Downloaded newer image for {}", name.familiar())
        });
    }
    if output.reference_line {
        say(name.full());
    }
    Ok(result)
}
