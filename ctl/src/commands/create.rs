//! `create`, and the create step `run` shares.

use super::container_flags::{ContainerFlags, PullPolicy};
use crate::client::Clients;
use crate::error::{status_message, Failure};
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

/// Checks the flags, creates the container and returns its ID. Warnings go to stderr.
pub async fn create_container(clients: &Clients, flags: &ContainerFlags) -> Result<String> {
    let cwd =
        std::env::current_dir().map_err(|e| Failure::new(format!("the working directory: {e}")))?;
    let request = flags
        .to_request(|name| std::env::var(name).ok(), &cwd)
        .map_err(Failure::new)?;
    if flags.pull_policy().map_err(Failure::new)? == PullPolicy::Always {
        return Err(Failure::new(format!(
            "cannot pull {}: pulling from registries is not supported yet (use --pull missing with a local image)",
            flags.image
        ))
        .into());
    }
    let response = match clients.containers().create_container(request).await {
        Ok(response) => response.into_inner(),
        Err(status) if status.code() == Code::NotFound => {
            return Err(missing_image_or(clients, &flags.image, status).await.into())
        }
        Err(status) => return Err(status.into()),
    };
    for warning in &response.warnings {
        eprintln!("WARNING: {warning}");
    }
    Ok(response.id)
}

/// A NotFound from CreateContainer: Docker's "No such image" when the image is what is missing
/// (registry pulls are not available yet, so `missing` cannot fetch it).
async fn missing_image_or(clients: &Clients, image: &str, status: tonic::Status) -> Failure {
    let lookup = clients
        .images()
        .get_image(GetImageRequest {
            reference: image.to_string(),
        })
        .await;
    match lookup {
        Err(lookup) if lookup.code() == Code::NotFound => {
            Failure::new(format!("No such image: {image}"))
        }
        _ => Failure::new(status_message(&status)),
    }
}
