//! `create`, and the create step `run` shares.

use super::container_flags::{ContainerFlags, PullPolicy};
use super::image_name::ImageName;
use super::pull::{pull_image, PullOutput};
use crate::client::Clients;
use crate::error::Failure;
use crate::output::progress::Stream;
use anyhow::Result;
use berth_proto::node::v1::GetImageRequest;
use clap::Args;
use tonic::Code;

/// `create [OPTIONS] IMAGE [COMMAND] [ARG...]`.
#[derive(Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub flags: ContainerFlags,
}

/// Creates the container and prints its ID.
pub async fn create(clients: &Clients, args: CreateArgs) -> Result<i32> {
    let id = create_container(clients, &args.flags).await?;
    println!("{id}");
    Ok(0)
}

/// Checks the flags, pulls the image as `--pull` says, creates the container and returns its
/// ID. Warnings and pull progress go to stderr: stdout belongs to the container.
pub async fn create_container(clients: &Clients, flags: &ContainerFlags) -> Result<String> {
    let cwd =
        std::env::current_dir().map_err(|e| Failure::new(format!("the working directory: {e}")))?;
    let request = flags
        .to_request(|name| std::env::var(name).ok(), &cwd)
        .map_err(Failure::new)?;
    let policy = flags.pull_policy().map_err(Failure::new)?;
    if policy == PullPolicy::Always {
        pull_image(clients, &flags.image, "", RUN_PULL).await?;
    }
    let response = match clients.containers().create_container(request.clone()).await {
        Ok(response) => response,
        Err(status) if status.code() == Code::NotFound => {
            if !image_is_missing(clients, &flags.image).await {
                return Err(status.into());
            }
            let name = ImageName::parse(&flags.image);
            if policy != PullPolicy::Missing {
                return Err(Failure::new(format!("No such image: {}", name.familiar())).into());
            }
            eprintln!("Unable to find image '{}' locally", name.familiar());
            pull_image(clients, &flags.image, "", RUN_PULL).await?;
            clients.containers().create_container(request).await?
        }
        Err(status) => return Err(status.into()),
    }
    .into_inner();
    for warning in &response.warnings {
        eprintln!("WARNING: {warning}");
    }
    Ok(response.id)
}

/// How `run` and `create` show a pull: on stderr, without the closing reference line.
const RUN_PULL: PullOutput = PullOutput {
    stream: Stream::Stderr,
    quiet: false,
    reference_line: false,
};

/// Whether a NotFound from CreateContainer is about the image.
async fn image_is_missing(clients: &Clients, image: &str) -> bool {
    let lookup = clients
        .images()
        .get_image(GetImageRequest {
            reference: image.to_string(),
        })
        .await;
    matches!(lookup, Err(status) if status.code() == Code::NotFound)
}
