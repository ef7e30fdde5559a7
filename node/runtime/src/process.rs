//! Turning the forked child into the configured process: limits, identity, capabilities,
//! working directory and finally execve. Shared by the container init and `exec`.

use caps::{CapSet, Capability as Cap, CapsHashSet};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{
    access, chdir, execve, getcwd, setgroups, setresgid, setresuid, AccessFlags, Gid, Uid,
};
use oci_spec::runtime::{
    Capability, IOPriorityClass, LinuxCapabilities, LinuxIOPriority, LinuxPersonality,
    LinuxPersonalityDomain, PosixRlimit, PosixRlimitType, User,
};
use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Context, Result, RuntimeError};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn resource(typ: PosixRlimitType) -> Resource {
    use PosixRlimitType as T;
    match typ {
        T::RlimitCpu => Resource::RLIMIT_CPU,
        T::RlimitFsize => Resource::RLIMIT_FSIZE,
        T::RlimitData => Resource::RLIMIT_DATA,
        T::RlimitStack => Resource::RLIMIT_STACK,
        T::RlimitCore => Resource::RLIMIT_CORE,
        T::RlimitRss => Resource::RLIMIT_RSS,
        T::RlimitNproc => Resource::RLIMIT_NPROC,
        T::RlimitNofile => Resource::RLIMIT_NOFILE,
        T::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        T::RlimitAs => Resource::RLIMIT_AS,
        T::RlimitLocks => Resource::RLIMIT_LOCKS,
        T::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        T::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        T::RlimitNice => Resource::RLIMIT_NICE,
        T::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        T::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

/// Sets `process.rlimits`. A limit the host will not grant fails naming the limit and the
/// host's hard limit, instead of a bare EPERM.
pub fn apply_rlimits(rlimits: &[PosixRlimit]) -> Result<()> {
    for limit in rlimits {
        let res = resource(limit.typ());
        if limit.soft() > limit.hard() {
            return Err(RuntimeError::InvalidConfig(format!(
                "rlimit {}: soft limit {} exceeds hard limit {}",
                limit.typ(),
                limit.soft(),
                limit.hard()
            )));
        }
        if let Err(err) = setrlimit(res, limit.soft(), limit.hard()) {
            let host_hard = getrlimit(res).map(|(_, hard)| hard).unwrap_or(0);
            return Err(RuntimeError::InvalidConfig(format!(
                "rlimit {} hard {} is above the host's hard limit {host_hard}: {err}",
                limit.typ(),
                limit.hard()
            )));
        }
    }
    Ok(())
}

/// Sets the execution domain (`linux.personality`). Flags beyond the domain are not
/// supported, as in runc, and are refused rather than ignored.
pub fn set_personality(personality: Option<&LinuxPersonality>) -> Result<()> {
    let Some(personality) = personality else {
        return Ok(());
    };
    if personality.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(RuntimeError::InvalidConfig(
            "linux.personality.flags are not supported".into(),
        ));
    }
    // <linux/personality.h>: PER_LINUX and PER_LINUX32.
    let domain: libc::c_ulong = match personality.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    };
    // SAFETY: personality(2) takes a plain integer and touches no memory.
    let previous = unsafe { libc::personality(domain) };
    if previous == -1 {
        return Err(Errno::last()).context(|| format!("setting personality {domain:#x}"));
    }
    Ok(())
}

/// Sets `process.ioPriority` with ioprio_set(2) on the calling process.
pub fn set_io_priority(priority: Option<LinuxIOPriority>) -> Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_long = 1;
    const IOPRIO_CLASS_SHIFT: u32 = 13;
    let Some(priority) = priority else {
        return Ok(());
    };
    let class: libc::c_long = match priority.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = priority.priority();
    if !(0..=7).contains(&level) {
        return Err(RuntimeError::InvalidConfig(format!(
            "process.ioPriority.priority {level} is outside 0..=7"
        )));
    }
    let value = (class << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: ioprio_set takes three integers and touches no memory.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    Errno::result(rc)
        .map(drop)
        .context(|| format!("setting I/O priority {value:#x}"))
}

pub fn set_oom_score_adj(value: Option<i32>) -> Result<()> {
    if let Some(value) = value {
        fs::write("/proc/self/oom_score_adj", value.to_string())
            .context(|| format!("setting oom_score_adj {value}"))?;
    }
    Ok(())
}

/// Changes into `cwd` and proves the result lies inside the container's root: a working
/// directory reached through a leaked host fd has no path from the root (CVE-2024-21626).
pub fn enter_cwd(cwd: &Path) -> Result<()> {
    chdir(cwd).context(|| format!("changing to working directory {}", cwd.display()))?;
    match getcwd() {
        Ok(path) if path.is_absolute() => Ok(()),
        _ => Err(RuntimeError::InvalidConfig(format!(
            "working directory {} is outside the container root",
            cwd.display()
        ))),
    }
}

/// Switches to the configured user, keeping capabilities across the switch when the spec
/// sets them explicitly.
pub fn switch_user(user: &User, keep_caps: bool) -> Result<()> {
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match setgroups(&groups) {
        // A joined user namespace may deny setgroups; that only matters if groups were asked for.
        Err(Errno::EPERM) if groups.is_empty() => {}
        other => other.context(|| "setting supplementary groups".into())?,
    }
    let gid = Gid::from_raw(user.gid());
    setresgid(gid, gid, gid).context(|| format!("setting gid {gid}"))?;
    if keep_caps {
        nix::sys::prctl::set_keepcaps(true).context(|| "keeping capabilities".into())?;
    }
    let uid = Uid::from_raw(user.uid());
    setresuid(uid, uid, uid).context(|| format!("setting uid {uid}"))?;
    if keep_caps {
        nix::sys::prctl::set_keepcaps(false).context(|| "resetting keepcaps".into())?;
    }
    if let Some(mask) = user.umask() {
        umask(Mode::from_bits_truncate(mask));
    }
    Ok(())
}

fn to_caps(set: Option<&HashSet<Capability>>) -> CapsHashSet {
    set.into_iter()
        .flatten()
        .filter_map(|c| format!("CAP_{c}").parse::<Cap>().ok())
        .collect()
}

fn caps_err(what: &str) -> impl FnOnce(caps::errors::CapsError) -> RuntimeError + '_ {
    move |e| RuntimeError::Init(format!("setting {what} capabilities: {e}"))
}

/// Drops the bounding set to what the spec allows. Runs while still root.
pub fn limit_bounding_set(spec_caps: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(spec_caps) = spec_caps else {
        return Ok(());
    };
    let keep = to_caps(spec_caps.bounding().as_ref());
    for cap in caps::all().difference(&keep) {
        match caps::drop(None, CapSet::Bounding, *cap) {
            // Capabilities newer than the kernel are simply absent.
            Err(_) if !caps::runtime::thread_all_supported().contains(cap) => {}
            other => other.map_err(caps_err("bounding"))?,
        }
    }
    Ok(())
}

/// Sets the effective, permitted, inheritable and ambient sets. Without a capabilities
/// section the inheritable and ambient sets are still emptied.
pub fn apply_capabilities(spec_caps: Option<&LinuxCapabilities>) -> Result<()> {
    let Some(spec_caps) = spec_caps else {
        caps::clear(None, CapSet::Inheritable).map_err(caps_err("inheritable"))?;
        return caps::clear(None, CapSet::Ambient).map_err(caps_err("ambient"));
    };
    let permitted = to_caps(spec_caps.permitted().as_ref());
    let effective = to_caps(spec_caps.effective().as_ref());
    caps::set(
        None,
        CapSet::Inheritable,
        &to_caps(spec_caps.inheritable().as_ref()),
    )
    .map_err(caps_err("inheritable"))?;
    caps::set(None, CapSet::Effective, &effective).map_err(caps_err("effective"))?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(caps_err("permitted"))?;
    caps::clear(None, CapSet::Ambient).map_err(caps_err("ambient"))?;
    for cap in to_caps(spec_caps.ambient().as_ref()) {
        caps::raise(None, CapSet::Ambient, cap).map_err(caps_err("ambient"))?;
    }
    Ok(())
}

/// Finds `program` the way execvp would, but in the container's `PATH`.
pub fn find_executable(program: &str, env: &[String]) -> Result<PathBuf> {
    let runnable = |p: &Path| p.is_file() && access(p, AccessFlags::X_OK).is_ok();
    if program.contains('/') {
        let path = PathBuf::from(program);
        // The reasons a shell reports (and maps to 127 or 126), so callers can tell them apart.
        let reason = match path.metadata() {
            Err(_) => "no such file or directory",
            Ok(meta) if meta.is_dir() => "is a directory",
            Ok(_) if !runnable(&path) => "permission denied",
            Ok(_) => return Ok(path),
        };
        return Err(RuntimeError::InvalidConfig(format!(
            "exec {program:?}: {reason}"
        )));
    }
    let search = env
        .iter()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    search
        .split(':')
        .map(|dir| Path::new(if dir.is_empty() { "." } else { dir }).join(program))
        .find(|candidate| runnable(candidate))
        .ok_or_else(|| {
            RuntimeError::InvalidConfig(format!("executable file {program:?} not found in $PATH"))
        })
}

/// Marks every fd from `3 + preserve_fds` up close-on-exec, so nothing the runtime holds
/// reaches the container's program (CVE-2024-21626); fds opened later are O_CLOEXEC anyway.
/// Runs before any seccomp filter, which need not allow close_range, and walks
/// `/proc/self/fd` on kernels without it (before 5.11).
pub fn mark_fds_cloexec(preserve_fds: u32) -> Result<()> {
    let first = 3 + preserve_fds;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only changes fd flags; the fds stay open,
    // so the sync socket can still report a failed execve.
    let rc = unsafe { libc::close_range(first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC as i32) };
    if rc == 0 {
        return Ok(());
    }
    let fds: Vec<i32> = fs::read_dir("/proc/self/fd")
        .context(|| "listing /proc/self/fd".into())?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| u32::try_from(*fd).is_ok_and(|fd| fd >= first))
        .collect();
    for fd in fds {
        match fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)) {
            // The directory handle read_dir used is closed by now.
            Ok(_) | Err(Errno::EBADF) => {}
            Err(e) => return Err(e).context(|| format!("marking fd {fd} close-on-exec")),
        }
    }
    Ok(())
}

/// The last step before the container's code runs: restore default signal handling and
/// execve. Returns only on failure.
pub fn exec(program: &Path, args: &[String], env: &[String]) -> RuntimeError {
    // SAFETY: restoring the default disposition; no handler code is involved.
    if let Err(e) = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) } {
        return RuntimeError::Init(format!("resetting SIGPIPE: {e}"));
    }
    if let Err(e) = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None) {
        return RuntimeError::Init(format!("resetting the signal mask: {e}"));
    }
    let to_c = |items: &[String]| -> Vec<CString> {
        items
            .iter()
            .filter_map(|s| CString::new(s.as_bytes()).ok())
            .collect()
    };
    let Ok(path) = CString::new(program.as_os_str().as_encoded_bytes()) else {
        return RuntimeError::InvalidConfig("executable path contains NUL".into());
    };
    match execve(&path, &to_c(args), &to_c(env)) {
        Err(err) => RuntimeError::Sys {
            context: format!("exec {}", program.display()),
            source: err,
        },
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_programs_in_the_given_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_owned()];
        assert!(find_executable("sh", &env).unwrap().ends_with("sh"));
        assert!(find_executable("no-such-program-x", &env).is_err());
        assert!(find_executable("/bin/sh", &[]).is_ok());
        assert!(find_executable("/etc/passwd", &[]).is_err());
    }

    #[test]
    fn capability_names_convert() {
        let set: HashSet<Capability> = [Capability::Chown, Capability::NetBindService].into();
        let converted = to_caps(Some(&set));
        assert!(converted.contains(&Cap::CAP_CHOWN));
        assert!(converted.contains(&Cap::CAP_NET_BIND_SERVICE));
    }
}
