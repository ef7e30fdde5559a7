//! Which namespaces a container process creates and which existing ones it joins.

use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::stat;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, LinuxTimeOffset};
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::OwnedFd;

use crate::error::{Context, Result};

/// Time namespaces postdate nix's flag list.
const CLONE_NEWTIME: CloneFlags = CloneFlags::from_bits_retain(0x80);

/// Namespace kinds in the order they are joined: user first (it grants the rights to join
/// the others), mount last (it changes the root that later paths would resolve against).
const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Mount,
];

pub fn clone_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

/// The `/proc/<pid>/ns/` entry name of a namespace kind.
fn proc_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Namespaces to join (already opened) and to create, for one container process.
#[derive(Debug)]
pub struct NamespacePlan {
    join: Vec<(LinuxNamespaceType, OwnedFd)>,
    create: CloneFlags,
    /// `/proc/self/timens_offsets` content for a new time namespace.
    time_offsets: String,
}

impl Default for NamespacePlan {
    fn default() -> Self {
        NamespacePlan {
            join: Vec::new(),
            create: CloneFlags::empty(),
            time_offsets: String::new(),
        }
    }
}

impl NamespacePlan {
    /// From a spec's `linux.namespaces`: entries with a `path` are joined, the rest created.
    /// `time_offsets` (clock name to offset) apply to a new time namespace.
    pub fn from_spec(
        namespaces: &[LinuxNamespace],
        time_offsets: Option<&HashMap<String, LinuxTimeOffset>>,
    ) -> Result<Self> {
        let mut plan = NamespacePlan::default();
        for (clock, offset) in time_offsets.into_iter().flatten() {
            plan.time_offsets += &format!(
                "{clock} {} {}\n",
                offset.secs().unwrap_or(0),
                offset.nanosecs().unwrap_or(0)
            );
        }
        for ns in namespaces {
            match ns.path() {
                Some(path) => {
                    let file = File::open(path)
                        .context(|| format!("opening {} namespace {}", ns.typ(), path.display()))?;
                    plan.join.push((ns.typ(), file.into()));
                }
                None => plan.create |= clone_flag(ns.typ()),
            }
        }
        plan.sort();
        Ok(plan)
    }

    /// Every namespace of a running process that differs from the runtime's own.
    pub fn join_process(pid: i32) -> Result<Self> {
        let mut plan = NamespacePlan::default();
        for typ in JOIN_ORDER {
            let theirs = format!("/proc/{pid}/ns/{}", proc_name(typ));
            let ours = format!("/proc/self/ns/{}", proc_name(typ));
            let (Ok(a), Ok(b)) = (stat(theirs.as_str()), stat(ours.as_str())) else {
                continue; // The kernel lacks this namespace kind.
            };
            if (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino) {
                continue;
            }
            let file = File::open(&theirs).context(|| format!("opening {theirs}"))?;
            plan.join.push((typ, file.into()));
        }
        Ok(plan)
    }

    fn sort(&mut self) {
        self.join
            .sort_by_key(|(typ, _)| JOIN_ORDER.iter().position(|t| t == typ));
    }

    pub fn creates(&self, typ: LinuxNamespaceType) -> bool {
        self.create.contains(clone_flag(typ))
    }

    pub fn joins(&self, typ: LinuxNamespaceType) -> bool {
        self.join.iter().any(|(t, _)| *t == typ)
    }

    pub fn creates_user(&self) -> bool {
        self.creates(LinuxNamespaceType::User)
    }

    /// Joins the user namespace given by path, if any.
    pub fn join_user(&self) -> Result<()> {
        self.join_where(|typ| typ == LinuxNamespaceType::User)
    }

    /// Creates the user namespace, if asked for; the caller then gets its id maps written.
    pub fn unshare_user(&self) -> Result<()> {
        if self.creates_user() {
            unshare(CloneFlags::CLONE_NEWUSER).context(|| "creating user namespace".into())?;
        }
        Ok(())
    }

    /// Joins the other namespaces given by path, then creates the remaining new ones.
    /// A new pid namespace takes effect for the next child only.
    pub fn enter_rest(&self) -> Result<()> {
        self.join_where(|typ| typ != LinuxNamespaceType::User)?;
        let rest = self.create - CloneFlags::CLONE_NEWUSER;
        if !rest.is_empty() {
            unshare(rest).context(|| format!("creating namespaces {rest:?}"))?;
        }
        // The offsets must be set before the first process enters the time namespace.
        if self.creates(LinuxNamespaceType::Time) && !self.time_offsets.is_empty() {
            std::fs::write("/proc/self/timens_offsets", &self.time_offsets)
                .context(|| "writing time namespace offsets".into())?;
        }
        Ok(())
    }

    fn join_where(&self, pick: impl Fn(LinuxNamespaceType) -> bool) -> Result<()> {
        for (typ, fd) in self.join.iter().filter(|(typ, _)| pick(*typ)) {
            setns(fd, clone_flag(*typ)).context(|| format!("joining {typ} namespace"))?;
        }
        Ok(())
    }
}
