//! The process of `exec`: the container's process settings with the request's command,
//! environment, directory, user and terminal. Its capabilities follow the same rule as the main
//! process's: the container's bounding set (every capability with `privileged`), effective
//! and permitted only for root.

use std::path::Path;

use berth_proto::node::v1::ExecStart;
use oci_spec::runtime::{BoxBuilder, Capability, Process, Spec};

use super::capabilities::{linux_capabilities, supported};
use super::process::{check_args, has_env, merge_env, oci_user, working_dir};
use super::user::resolve_user;
use super::SpecError;

/// Builds the exec process from `container`'s process; see [`super::exec_process`].
pub fn exec_process(
    container: &Spec,
    request: &ExecStart,
    rootfs: &Path,
) -> Result<Process, SpecError> {
    let base = container
        .process()
        .as_ref()
        .ok_or_else(|| SpecError::Invalid("the container's spec has no process".into()))?;
    let mut process = base.clone();
    process
        .set_args(Some(check_args(request.cmd.clone())?))
        .set_command_line(None)
        .set_terminal(Some(request.tty))
        .set_console_size(None);

    let mut env = base.env().clone().unwrap_or_default();
    if !request.user.is_empty() {
        let user = resolve_user(&request.user, rootfs)?;
        process.set_user(oci_user(&user));
        // The container's HOME belongs to its own user.
        env = merge_env(&env, &[format!("HOME={}", user.home)])?;
    }
    if request.tty && !has_env(&env, "TERM") {
        env.push("TERM=xterm".into());
    }
    process.set_env(Some(merge_env(&env, &request.env)?));

    if !request.working_dir.is_empty() {
        process.set_cwd(working_dir(&request.working_dir)?.into());
    }
    let bounding: Vec<Capability> = if request.privileged {
        supported()
    } else {
        base.capabilities()
            .as_ref()
            .and_then(|caps| caps.bounding().as_ref())
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default()
    };
    process.set_capabilities(Some(linux_capabilities(&bounding, process.user().uid())));
    if let Some(size) = request
        .size
        .filter(|s| request.tty && s.width > 0 && s.height > 0)
    {
        let console = BoxBuilder::default()
            .width(size.width)
            .height(size.height)
            .build()
            .map_err(|e| SpecError::Invalid(format!("terminal size: {e}")))?;
        process.set_console_size(Some(console));
    }
    Ok(process)
}
