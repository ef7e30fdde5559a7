//! `push`.

use anyhow::Result;
use berth_proto::node::v1::{push_image_response, PushImageRequest};
use clap::Args;

use super::image_name::ImageName;
use crate::client::Clients;
use crate::credentials;
use crate::error::Failure;
use crate::output::progress::{follow_transfer, ProgressView, Stream, Transfer, TransferMessage};

/// `push [OPTIONS] NAME[:TAG]`.
#[derive(Args)]
pub struct PushArgs {
    /// Suppress verbose output.
    #[arg(short, long)]
    quiet: bool,
    /// The image.
    image: String,
}

/// Pushes an image to its registry, printing Docker's progress.
pub async fn push(clients: &Clients, args: PushArgs) -> Result<i32> {
    let name = ImageName::parse(&args.image);
    let auth = credentials::for_registry(&name.domain)?;
    if !args.quiet {
        println!("The push refers to repository [{}]", name.repository());
    }
    let request = PushImageRequest {
        reference: args.image.clone(),
        auth,
    };
    let responses = clients.images().push_image(request).await?.into_inner();
    let view = (!args.quiet).then(|| ProgressView::new(Transfer::Push, Stream::Stdout));
    let result = follow_transfer(responses, view, |m| match m.response? {
        push_image_response::Response::Progress(p) => Some(TransferMessage::Progress(p)),
        push_image_response::Response::Result(r) => Some(TransferMessage::Done(r)),
    })
    .await?;
    let result =
        result.ok_or_else(|| Failure::new("the daemon ended the push without a result"))?;
    if args.quiet {
        println!("{}", name.full());
    } else {
        println!(
            "{}: digest: {} size: {}",
            result.tag, result.digest, result.size
        );
    }
    Ok(0)
}
