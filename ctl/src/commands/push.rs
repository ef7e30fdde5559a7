//! `push`.

use anyhow::Result;
use berth_proto::node::v1::{push_image_response, PushImageRequest};
use clap::Args;

use super::image_name::ImageName;
use crate::client::Clients;
use crate::credentials;
use crate::error::Failure;
use crate::output::progress::{ProgressView, Stream, Transfer};

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
    let mut responses = clients.images().push_image(request).await?.into_inner();
    let mut view = (!args.quiet).then(|| ProgressView::new(Transfer::Push, Stream::Stdout));
    let mut result = None;
    while let Some(message) = responses.message().await? {
        match message.response {
            Some(push_image_response::Response::Progress(p)) => {
                if let Some(view) = view.as_mut() {
                    view.update(&p);
                }
            }
            Some(push_image_response::Response::Result(r)) => result = Some(r),
            None => {}
        }
    }
    if let Some(view) = view {
        view.finish();
    }
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
