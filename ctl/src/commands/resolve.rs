//! Looking up one container, and running one action on several (`stop a b c`).

use crate::client::Clients;
use crate::error::{status_message, Failure};
use anyhow::Result;
use berth_proto::node::v1::{Container, GetContainerRequest};
use std::future::Future;

/// The container with this ID, ID prefix or name.
pub async fn get_container(clients: &Clients, reference: &str) -> Result<Container> {
    let response = clients
        .containers()
        .get_container(GetContainerRequest {
            id: reference.to_string(),
            size: false,
        })
        .await?
        .into_inner();
    response
        .container
        .ok_or_else(|| Failure::new(format!("No such container: {reference}")).into())
}

/// Runs `action` on each target in turn, as Docker does: the target is printed on success,
/// `Error: …` on failure, and the command fails at the end if any target failed.
pub async fn for_each<F, Fut>(targets: &[String], print_target: bool, mut action: F) -> Result<i32>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<(), tonic::Status>>,
{
    let mut failed = false;
    for target in targets {
        match action(target.clone()).await {
            Ok(()) if print_target => println!("{target}"),
            Ok(()) => {}
            Err(status) => {
                eprintln!("Error: {}", status_message(&status));
                failed = true;
            }
        }
    }
    if failed {
        return Err(Failure::reported().into());
    }
    Ok(0)
}
