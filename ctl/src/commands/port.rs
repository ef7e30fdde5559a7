//! `port`: published ports. Only `none` and `host` networking exist yet, so a container has no
//! mappings and nothing is printed, as Docker prints nothing for a container without any.

use super::resolve::get_container;
use crate::client::Clients;
use crate::error::Failure;
use anyhow::Result;
use clap::Args;

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`.
#[derive(Args)]
pub struct PortArgs {
    /// The container.
    container: String,
    /// Only this container port (PORT[/tcp|udp]).
    private_port: Option<String>,
}

/// Lists the container's port mappings (there are none yet).
pub async fn port(clients: &Clients, args: PortArgs) -> Result<i32> {
    get_container(clients, &args.container).await?;
    if let Some(port) = args.private_port {
        let (number, protocol) = port.split_once('/').unwrap_or((&port, "tcp"));
        if number.parse::<u16>().is_err() || !matches!(protocol, "tcp" | "udp" | "sctp") {
            return Err(Failure::new(format!("invalid port: {port}")).into());
        }
        return Err(Failure::new(format!(
            "No public port '{number}/{protocol}' published for {}",
            args.container
        ))
        .into());
    }
    Ok(0)
}
