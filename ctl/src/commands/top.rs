//! `top`: the processes of a container, in ps's default columns.

use crate::client::Clients;
use crate::output::{self, humanize::to_datetime, table};
use anyhow::Result;
use berth_proto::node::v1::{ContainerProcess, TopContainerRequest};
use clap::Args;

/// `top CONTAINER`.
#[derive(Args)]
pub struct TopArgs {
    /// The container.
    container: String,
}

/// Prints the processes like `docker top` (which runs `ps -ef`).
pub async fn top(clients: &Clients, args: TopArgs) -> Result<i32> {
    let response = clients
        .containers()
        .top_container(TopContainerRequest { id: args.container })
        .await?
        .into_inner();
    let mut text = String::from("UID\tPID\tPPID\tC\tSTIME\tTTY\tTIME\tCMD\n");
    for process in &response.processes {
        text.push_str(&line(process));
    }
    output::print(&table::align_wide(&text))?;
    Ok(0)
}

fn line(process: &ContainerProcess) -> String {
    let started = to_datetime(process.started_at.as_ref())
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
        .unwrap_or_else(|| "?".to_string());
    let seconds = process.cpu_time_ns / 1_000_000_000;
    let cpu = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    let user = if process.uid == 0 {
        "root".to_string()
    } else {
        process.uid.to_string()
    };
    format!(
        "{user}\t{}\t{}\t0\t{started}\t?\t{cpu}\t{}\n",
        process.pid, process.ppid, process.command
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns() {
        let process = ContainerProcess {
            pid: 25358,
            ppid: 25337,
            uid: 0,
            cpu_time_ns: 3_723_000_000_000,
            command: "sleep 1000".into(),
            ..Default::default()
        };
        assert_eq!(
            line(&process),
            "root\t25358\t25337\t0\t?\t?\t01:02:03\tsleep 1000\n"
        );
    }
}
