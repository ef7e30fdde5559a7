//! The process an `exec` runs: a process.json, or the container's own process changed by
//! runc's exec flags.

use anyhow::{bail, Context, Result};
use berth_runtime::{ExecOptions, Runtime};
use oci_spec::runtime::{Capability, Process};
use std::collections::HashSet;
use std::fs::File;
use std::str::FromStr;

use crate::cli::ExecArgs;

/// The process to exec: a process.json, or the container's own process with ARGS and flags.
pub fn exec_options(runtime: &Runtime, args: &ExecArgs) -> Result<ExecOptions> {
    let process = match &args.process {
        Some(path) => {
            let file = File::open(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_reader(file).with_context(|| format!("parsing {}", path.display()))?
        }
        None => process_from_flags(runtime, args)?,
    };
    Ok(ExecOptions {
        process,
        console_socket: args.console_socket.clone(),
        pid_file: args.pid_file.clone(),
        detach: args.detach,
        preserve_fds: args.preserve_fds,
    })
}

fn process_from_flags(runtime: &Runtime, args: &ExecArgs) -> Result<Process> {
    if args.args.is_empty() {
        bail!("exec needs a command (ARGS) or --process");
    }
    let (container, _) = runtime.state(&args.id)?;
    let spec = container.spec()?;
    let mut process = spec.process().clone().unwrap_or_default();
    process.set_args(Some(args.args.clone()));
    process.set_terminal(Some(args.tty));
    process.set_console_size(None);
    if let Some(cwd) = &args.cwd {
        process.set_cwd(cwd.clone());
    }
    let mut env = process.env().clone().unwrap_or_default();
    env.extend(args.env.iter().cloned());
    process.set_env(Some(env));
    if let Some(user) = &args.user {
        let (uid, gid) = match user.split_once(':') {
            Some((u, g)) => (u.parse()?, g.parse()?),
            None => (user.parse()?, 0),
        };
        let u = process.user_mut();
        u.set_uid(uid);
        u.set_gid(gid);
    }
    if !args.additional_gids.is_empty() {
        process
            .user_mut()
            .set_additional_gids(Some(args.additional_gids.clone()));
    }
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if !args.cap.is_empty() {
        add_capabilities(&mut process, &args.cap)?;
    }
    Ok(process)
}

fn add_capabilities(process: &mut Process, names: &[String]) -> Result<()> {
    let extra: HashSet<Capability> = names
        .iter()
        .map(|n| {
            let bare = n.strip_prefix("CAP_").unwrap_or(n);
            Capability::from_str(bare).with_context(|| format!("unknown capability {n:?}"))
        })
        .collect::<Result<_>>()?;
    let mut caps = process.capabilities().clone().unwrap_or_default();
    let grow = |set: &Option<HashSet<Capability>>| -> Option<HashSet<Capability>> {
        Some(
            set.clone()
                .unwrap_or_default()
                .union(&extra)
                .copied()
                .collect(),
        )
    };
    caps.set_bounding(grow(caps.bounding()));
    caps.set_effective(grow(caps.effective()));
    caps.set_permitted(grow(caps.permitted()));
    process.set_capabilities(Some(caps));
    Ok(())
}
