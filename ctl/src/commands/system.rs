//! `version`, `info` and `system df`.

use crate::client::Clients;
use crate::error::describe;
use crate::output::{
    self,
    humanize::{bytes_size, human_size},
    template::Template,
    ListFormat,
};
use anyhow::Result;
use berth_proto::node::v1::{
    GetDiskUsageRequest, GetDiskUsageResponse, GetInfoRequest, GetVersionRequest,
};
use clap::Args;
use serde_json::{json, Value};

/// `version [OPTIONS]`.
#[derive(Args)]
pub struct VersionArgs {
    /// Format output using a Go template, or json.
    #[arg(short = 'f', long)]
    format: Option<String>,
}

fn client_version() -> Value {
    json!({
        "Version": env!("CARGO_PKG_VERSION"),
        "ApiVersion": "v1",
        "Os": "linux",
        "Arch": go_arch(std::env::consts::ARCH),
    })
}

/// Go's architecture names, which Docker prints (`amd64`, `arm64`).
fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Prints the client's and the daemon's versions.
pub async fn version(clients: &Clients, host: &str, args: VersionArgs) -> Result<i32> {
    let server = clients
        .system()
        .get_version(GetVersionRequest {})
        .await
        .map(|r| r.into_inner());
    let server_value = server.as_ref().ok().map(|v| {
        json!({
            "Version": v.version, "ApiVersion": v.api_version, "GitCommit": v.git_commit,
            "Os": v.os, "Arch": v.arch, "KernelVersion": v.kernel_version, "Runtime": v.runtime,
        })
    });
    let data = json!({ "Client": client_version(), "Server": server_value });
    let text = match args.format.as_deref().map(str::trim) {
        None | Some("") => version_text(&data),
        Some("json") => format!("{}\n", serde_json::to_string(&data)?),
        Some(format) => format!("{}\n", Template::parse(format)?.render(&data)?),
    };
    output::print(&text)?;
    match server {
        Ok(_) => Ok(0),
        Err(status) => {
            let (code, message) = describe(&anyhow::Error::new(status), host);
            eprintln!("Error: {message}");
            Ok(code)
        }
    }
}

fn version_text(data: &Value) -> String {
    let field = |value: &Value, key: &str| value[key].as_str().unwrap_or("").to_string();
    let client = &data["Client"];
    let mut text = format!(
        "Client:\n Version:           {}\n API version:       {}\n OS/Arch:           {}/{}\n",
        field(client, "Version"),
        field(client, "ApiVersion"),
        field(client, "Os"),
        field(client, "Arch"),
    );
    let server = &data["Server"];
    if !server.is_null() {
        text.push_str(&format!(
            "\nServer:\n Engine:\n  Version:          {}\n  API version:      {}\n  Git commit:       {}\n  OS/Arch:          {}/{}\n  Kernel Version:   {}\n Runtime:\n  Name:             {}\n",
            field(server, "Version"),
            field(server, "ApiVersion"),
            field(server, "GitCommit"),
            field(server, "Os"),
            field(server, "Arch"),
            field(server, "KernelVersion"),
            field(server, "Runtime"),
        ));
    }
    text
}

/// `info [OPTIONS]`.
#[derive(Args)]
pub struct InfoArgs {
    /// Format output using a Go template, or json.
    #[arg(short = 'f', long)]
    format: Option<String>,
}

/// Prints system-wide information like `docker info`.
pub async fn info(clients: &Clients, args: InfoArgs) -> Result<i32> {
    let i = clients
        .system()
        .get_info(GetInfoRequest {})
        .await?
        .into_inner();
    let data = json!({
        "Containers": i.containers, "ContainersRunning": i.containers_running,
        "ContainersPaused": i.containers_paused, "ContainersStopped": i.containers_stopped,
        "Images": i.images, "ServerVersion": i.server_version, "Driver": i.driver,
        "LoggingDriver": i.logging_driver, "CgroupDriver": i.cgroup_driver,
        "CgroupVersion": i.cgroup_version, "KernelVersion": i.kernel_version,
        "OperatingSystem": i.operating_system, "OSType": i.os_type,
        "Architecture": i.architecture, "NCPU": i.ncpu, "MemTotal": i.mem_total, "Name": i.name,
        "DockerRootDir": i.root_dir, "ExecRoot": i.exec_root, "DefaultRuntime": i.default_runtime,
        "SecurityOptions": i.security_options,
    });
    let text = match args.format.as_deref().map(str::trim) {
        None | Some("") => {
            let mut text = format!(
                "Server:\n Containers: {}\n  Running: {}\n  Paused: {}\n  Stopped: {}\n Images: {}\n Server Version: {}\n Storage Driver: {}\n Logging Driver: {}\n Cgroup Driver: {}\n Cgroup Version: {}\n Default Runtime: {}\n",
                i.containers, i.containers_running, i.containers_paused, i.containers_stopped,
                i.images, i.server_version, i.driver, i.logging_driver, i.cgroup_driver,
                i.cgroup_version, i.default_runtime,
            );
            if !i.security_options.is_empty() {
                text.push_str(" Security Options:\n");
                for option in &i.security_options {
                    text.push_str(&format!("  {option}\n"));
                }
            }
            text.push_str(&format!(
                " Kernel Version: {}\n Operating System: {}\n OSType: {}\n Architecture: {}\n CPUs: {}\n Total Memory: {}\n Name: {}\n Berth Root Dir: {}\n Exec Root: {}\n",
                i.kernel_version, i.operating_system, i.os_type, i.architecture, i.ncpu,
                bytes_size(i.mem_total as f64), i.name, i.root_dir, i.exec_root,
            ));
            text
        }
        Some("json") => format!("{}\n", serde_json::to_string(&data)?),
        Some(format) => format!("{}\n", Template::parse(format)?.render(&data)?),
    };
    output::print(&text)?;
    Ok(0)
}

/// `system df [OPTIONS]`.
#[derive(Args)]
pub struct DfArgs {
    /// Format output: table, json, or a Go template.
    #[arg(long)]
    format: Option<String>,
}

/// The default table of `system df`.
const DF_TABLE: &str = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

/// Prints disk usage like `docker system df`.
pub async fn df(clients: &Clients, args: DfArgs) -> Result<i32> {
    let usage = clients
        .system()
        .get_disk_usage(GetDiskUsageRequest {})
        .await?
        .into_inner();
    let format = ListFormat::parse(args.format.as_deref(), DF_TABLE)?;
    let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    output::print(&format.render(&df_rows(&usage), &headers)?)?;
    Ok(0)
}

fn df_rows(usage: &GetDiskUsageResponse) -> Vec<Value> {
    let reclaimable = |bytes: i64, total: i64| {
        let percent = if total > 0 { bytes * 100 / total } else { 0 };
        format!("{} ({percent}%)", human_size(bytes as f64, 3))
    };
    let images_active = usage.images.iter().filter(|i| i.containers > 0).count();
    let unused_images: i64 = usage
        .images
        .iter()
        .filter(|i| i.containers == 0)
        .map(|i| i.size - i.shared_size)
        .sum();
    let containers_active = usage
        .containers
        .iter()
        .filter(|c| c.status == "running" || c.status == "paused")
        .count();
    let containers_size: i64 = usage.containers.iter().map(|c| c.size_rw).sum();
    let stopped_size: i64 = usage
        .containers
        .iter()
        .filter(|c| c.status != "running" && c.status != "paused")
        .map(|c| c.size_rw)
        .sum();
    vec![
        json!({
            "Type": "Images", "TotalCount": usage.images.len().to_string(), "Active": images_active.to_string(),
            "Size": human_size(usage.layers_size as f64, 3), "Reclaimable": reclaimable(unused_images.max(0), usage.layers_size),
        }),
        json!({
            "Type": "Containers", "TotalCount": usage.containers.len().to_string(), "Active": containers_active.to_string(),
            "Size": human_size(containers_size as f64, 3), "Reclaimable": reclaimable(stopped_size, containers_size),
        }),
        json!({"Type": "Local Volumes", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}),
        json!({"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_proto::node::v1::{ContainerDiskUsage, ImageDiskUsage};

    #[test]
    fn disk_usage_rows() {
        let usage = GetDiskUsageResponse {
            images: vec![
                ImageDiskUsage {
                    size: 2_000_000,
                    containers: 1,
                    ..Default::default()
                },
                ImageDiskUsage {
                    size: 1_000_000,
                    containers: 0,
                    ..Default::default()
                },
            ],
            containers: vec![
                ContainerDiskUsage {
                    size_rw: 300,
                    status: "running".into(),
                    ..Default::default()
                },
                ContainerDiskUsage {
                    size_rw: 100,
                    status: "exited".into(),
                    ..Default::default()
                },
            ],
            layers_size: 3_000_000,
            content_size: 0,
        };
        let rows = df_rows(&usage);
        assert_eq!(rows[0]["TotalCount"], "2");
        assert_eq!(rows[0]["Active"], "1");
        assert_eq!(rows[0]["Size"], "3MB");
        assert_eq!(rows[0]["Reclaimable"], "1MB (33%)");
        assert_eq!(rows[1]["Active"], "1");
        assert_eq!(rows[1]["Size"], "400B");
        assert_eq!(rows[1]["Reclaimable"], "100B (25%)");
    }

    #[test]
    fn version_without_server() {
        let text = version_text(&json!({"Client": client_version(), "Server": null}));
        assert!(text.starts_with("Client:\n Version:           "));
        assert!(!text.contains("Server:"));
    }
}
