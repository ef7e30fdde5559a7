//! What `list`, `ps`, `state` and `features` print.

use anyhow::Result;
use berth_runtime::{procfs::ProcStat, Runtime, Status};
use std::io::Write;

use crate::cli::OutputFormat;

pub fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

pub fn list(runtime: &Runtime, quiet: bool, format: OutputFormat) -> Result<()> {
    let containers = runtime.list()?;
    if quiet {
        for (container, _) in &containers {
            println!("{}", container.id());
        }
        return Ok(());
    }
    if format == OutputFormat::Json {
        let states: Vec<_> = containers
            .iter()
            .map(|(c, s)| c.record.oci_state(*s))
            .collect();
        return print_json(&states);
    }
    println!(
        "{:<20} {:<8} {:<10} {:<40} CREATED",
        "ID", "PID", "STATUS", "BUNDLE"
    );
    for (c, status) in &containers {
        let pid = if *status == Status::Stopped {
            0
        } else {
            c.record.pid
        };
        println!(
            "{:<20} {:<8} {:<10} {:<40} {}",
            c.id(),
            pid,
            status,
            c.record.bundle.display(),
            c.record.created.to_rfc3339()
        );
    }
    Ok(())
}

pub fn ps(runtime: &Runtime, id: &str, format: OutputFormat) -> Result<()> {
    let pids = runtime.pids(id)?;
    if format == OutputFormat::Json {
        let raw: Vec<i32> = pids.iter().map(|p| p.as_raw()).collect();
        return print_json(&raw);
    }
    println!("{:<8} {:<8} {:<6} CMD", "PID", "PPID", "STAT");
    for pid in pids {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|raw| {
                String::from_utf8_lossy(&raw)
                    .replace('\0', " ")
                    .trim()
                    .to_owned()
            })
            .unwrap_or_default();
        let (state, ppid) =
            ProcStat::read(pid.as_raw()).map_or(('?', 0), |stat| (stat.state, stat.ppid));
        println!("{pid:<8} {ppid:<8} {state:<6} {cmd}");
    }
    Ok(())
}
