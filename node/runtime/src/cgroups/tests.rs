//! Real cgroups, as root: each test makes its own `/berth-test-<pid>-<n>` cgroup and a guard
//! removes it (and kills its processes) even when the test fails. Tests run one at a time
//! because cgroups are shared host state.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
use nix::unistd::Pid;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxHugepageLimitBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    LinuxResourcesBuilder,
};

use super::hierarchy::Hierarchy;
use super::{CgroupError, ContainerCgroup};

static SERIAL: Mutex<()> = Mutex::new(());
static NEXT: AtomicUsize = AtomicUsize::new(0);

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn unique_path() -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(format!("/berth-test-{}-{n}", std::process::id()))
}

/// Told independently of the code under test.
fn host_is_v2() -> bool {
    statfs("/sys/fs/cgroup").unwrap().filesystem_type() == CGROUP2_SUPER_MAGIC
}

/// Kills the test's processes and removes its cgroup however the test ends.
struct Guard {
    cgroup: ContainerCgroup,
    children: Vec<Child>,
}

impl Guard {
    fn new(cgroup: ContainerCgroup) -> Self {
        Self {
            cgroup,
            children: Vec::new(),
        }
    }

    fn spawn(&mut self, command: &mut Command) -> Pid {
        let child = command.spawn().unwrap();
        let pid = Pid::from_raw(i32::try_from(child.id()).unwrap());
        self.children.push(child);
        pid
    }

    fn sleeper(&mut self) -> Pid {
        self.spawn(Command::new("sleep").arg("60"))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Err(err) = self.cgroup.remove() {
            eprintln!("cleanup of {}: {err}", self.cgroup.path().display());
        }
    }
}

fn typical_resources() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .devices(vec![LinuxDeviceCgroupBuilder::default()
            .allow(false)
            .access("rwm")
            .build()
            .unwrap()])
        .memory(
            LinuxMemoryBuilder::default()
                .limit(256i64 << 20)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000i64)
                .period(100_000u64)
                .cpus("0")
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(64i64).build().unwrap())
        .build()
        .unwrap()
}

/// The content of a control file of the container's cgroup.
fn control_file(cgroup: &ContainerCgroup, controller: &str, file: &str) -> String {
    let dir = cgroup.hierarchy.dir_of(controller, cgroup.path()).unwrap();
    std::fs::read_to_string(dir.join(file))
        .unwrap()
        .trim()
        .to_owned()
}

/// User plus system CPU ticks of a process, from /proc/<pid>/stat.
fn cpu_ticks(pid: Pid) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // utime and stime are fields 14 and 15 of stat(5); field 3 (state) is index 0 here.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn apply_moves_the_process_and_writes_the_limits() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c1").unwrap());
    let pid = guard.sleeper();
    let cgroup = &guard.cgroup;

    cgroup.apply(pid, Some(&typical_resources())).unwrap();

    assert_eq!(cgroup.pids().unwrap(), vec![pid]);
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let in_container = |line: &&str| line.ends_with(&format!(":{}", cgroup.path().display()));
    if host_is_v2() {
        assert!(
            own.lines()
                .any(|l| l.starts_with("0::") && in_container(&l)),
            "{own}"
        );
        assert_eq!(control_file(cgroup, "memory", "memory.max"), "268435456");
        assert_eq!(control_file(cgroup, "pids", "pids.max"), "64");
        assert_eq!(control_file(cgroup, "cpu", "cpu.max"), "50000 100000");
        assert_eq!(control_file(cgroup, "cpu", "cpu.weight"), "59");
        assert_eq!(control_file(cgroup, "cpuset", "cpuset.cpus"), "0");
    } else {
        for controller in ["memory", "pids", "cpu", "devices", "freezer"] {
            let listed = own
                .lines()
                .filter(in_container)
                .any(|l| l.contains(controller));
            assert!(listed, "{controller} not joined: {own}");
        }
        assert_eq!(
            control_file(cgroup, "memory", "memory.limit_in_bytes"),
            "268435456"
        );
        assert_eq!(control_file(cgroup, "pids", "pids.max"), "64");
        assert_eq!(control_file(cgroup, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(control_file(cgroup, "cpu", "cpu.cfs_period_us"), "100000");
        assert_eq!(control_file(cgroup, "cpu", "cpu.shares"), "512");
        assert_eq!(control_file(cgroup, "cpuset", "cpuset.cpus"), "0");
        let devices = control_file(cgroup, "devices", "devices.list");
        assert!(devices.lines().any(|l| l == "c 1:3 rwm"), "{devices}");
        assert!(!devices.lines().any(|l| l.starts_with("a ")), "{devices}");
    }
}

#[test]
fn update_changes_only_the_limits_it_sets() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c1").unwrap());
    let pid = guard.sleeper();
    let cgroup = &guard.cgroup;
    cgroup.apply(pid, Some(&typical_resources())).unwrap();

    let bigger = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(512i64 << 20)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    cgroup.update(&bigger).unwrap();
    let (memory, pids) = if host_is_v2() {
        ("memory.max", "pids.max")
    } else {
        ("memory.limit_in_bytes", "pids.max")
    };
    assert_eq!(control_file(cgroup, "memory", memory), "536870912");
    assert_eq!(
        control_file(cgroup, "pids", pids),
        "64",
        "an unset limit changed"
    );
    assert_eq!(cgroup.pids().unwrap(), vec![pid]);

    let devices = LinuxResourcesBuilder::default()
        .devices(vec![LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .access("rwm")
            .build()
            .unwrap()])
        .build()
        .unwrap();
    assert!(matches!(
        cgroup.update(&devices),
        Err(CgroupError::InvalidResource(_))
    ));
}

#[test]
fn freeze_stops_the_processes_and_thaw_restarts_them() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c2").unwrap());
    let pid = guard.spawn(Command::new("sh").args(["-c", "while :; do :; done"]));
    guard.cgroup.apply(pid, None).unwrap();
    let cgroup = &guard.cgroup;
    assert!(!cgroup.is_frozen().unwrap());

    cgroup.freeze().unwrap();
    assert!(cgroup.is_frozen().unwrap());
    let raw_state = if host_is_v2() {
        control_file(cgroup, "freezer", "cgroup.events")
    } else {
        control_file(cgroup, "freezer", "freezer.state")
    };
    assert!(
        raw_state == "FROZEN" || raw_state.lines().any(|l| l == "frozen 1"),
        "{raw_state}"
    );
    let frozen_at = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(pid), frozen_at, "a frozen process used CPU");

    cgroup.thaw().unwrap();
    assert!(!cgroup.is_frozen().unwrap());
    wait_until("the thawed process runs", || cpu_ticks(pid) > frozen_at);
}

#[test]
fn remove_kills_leftovers_and_leaves_no_directory() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c3").unwrap());
    let pid = guard.sleeper();
    guard.cgroup.apply(pid, Some(&typical_resources())).unwrap();
    let dirs = guard.cgroup.hierarchy.dirs(guard.cgroup.path());
    assert!(dirs.iter().filter(|d| d.exists()).count() >= 1);

    guard.cgroup.remove().unwrap();

    for dir in &dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    let status = guard.children[0].wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    guard.cgroup.remove().unwrap();
    assert!(matches!(guard.cgroup.pids(), Err(CgroupError::NotFound(_))));
}

#[test]
fn remove_of_a_frozen_cgroup_with_children_thaws_and_kills() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c4").unwrap());
    let pid = guard.sleeper();
    guard.cgroup.apply(pid, None).unwrap();
    let dirs = guard.cgroup.hierarchy.dirs(guard.cgroup.path());
    // A child cgroup the container made itself, holding a second process.
    let inner = guard.sleeper();
    for dir in dirs.iter().filter(|d| d.exists()) {
        std::fs::create_dir(dir.join("inner")).unwrap();
        // A v1 cpuset cgroup takes no process until it has CPUs and memory nodes.
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let inner_file = dir.join("inner").join(file);
            // On v2 the child has no cpuset files unless the controller is delegated.
            if let (Ok(value), true) =
                (std::fs::read_to_string(dir.join(file)), inner_file.exists())
            {
                std::fs::write(inner_file, value).unwrap();
            }
        }
        std::fs::write(dir.join("inner/cgroup.procs"), inner.to_string()).unwrap();
    }
    guard.cgroup.freeze().unwrap();

    guard.cgroup.remove().unwrap();

    for dir in &dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
    for child in &mut guard.children {
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(9)
        );
    }
}

#[test]
fn open_of_the_stored_path_reaches_the_same_cgroup() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c5").unwrap());
    let first = guard.sleeper();
    let second = guard.sleeper();
    guard.cgroup.apply(first, None).unwrap();

    let reopened = ContainerCgroup::open(guard.cgroup.path(), "c5").unwrap();
    assert_eq!(reopened.path(), guard.cgroup.path());
    reopened.add_task(second).unwrap();
    let mut pids = guard.cgroup.pids().unwrap();
    pids.sort();
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(pids, expected);

    reopened.freeze().unwrap();
    assert!(guard.cgroup.is_frozen().unwrap());
    reopened.remove().unwrap();
    assert!(matches!(
        guard.cgroup.is_frozen(),
        Err(CgroupError::NotFound(_))
    ));
    let err = reopened.add_task(second).unwrap_err();
    assert!(matches!(err, CgroupError::NotFound(_)), "{err}");
}

#[test]
fn relative_and_default_paths_resolve_under_the_runtime_cgroup() {
    let _serial = serial();
    let named = ContainerCgroup::new(None, "c6").unwrap();
    assert!(named.path().is_absolute());
    assert!(
        named.path().ends_with("berth/c6"),
        "{}",
        named.path().display()
    );
    let relative = ContainerCgroup::new(Some(Path::new("pods/p1")), "c6").unwrap();
    assert_eq!(
        relative.path().parent().unwrap().parent(),
        named.path().parent().unwrap().parent()
    );
}

#[test]
fn a_relative_path_is_created_under_the_runtime_cgroup_and_removed() {
    let _serial = serial();
    let name = unique_path();
    let relative = name.strip_prefix("/").unwrap();
    let mut guard = Guard::new(ContainerCgroup::new(Some(relative), "c13").unwrap());
    let parent = guard.cgroup.hierarchy.parent_for_relative().unwrap();
    assert_eq!(guard.cgroup.path(), parent.join(relative));
    let pid = guard.sleeper();

    guard.cgroup.apply(pid, Some(&typical_resources())).unwrap();
    assert_eq!(guard.cgroup.pids().unwrap(), vec![pid]);
    let dirs = guard.cgroup.hierarchy.dirs(guard.cgroup.path());
    guard.cgroup.remove().unwrap();

    for dir in &dirs {
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}

#[test]
fn a_path_with_dot_dot_is_a_clear_error_and_creates_nothing() {
    let _serial = serial();
    let escape = PathBuf::from(format!("{}/../../etc", unique_path().display()));
    let err = ContainerCgroup::new(Some(&escape), "c7").unwrap_err();
    assert!(matches!(err, CgroupError::InvalidPath { .. }));
    assert!(err.to_string().contains("must not contain \"..\""), "{err}");
    let err = ContainerCgroup::open(Path::new("/berth/../.."), "c7").unwrap_err();
    assert!(matches!(err, CgroupError::InvalidPath { .. }), "{err}");
}

#[test]
fn a_bad_request_fails_before_the_cgroup_exists() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c8").unwrap());
    let pid = guard.sleeper();
    let mut resources = typical_resources();
    resources.set_devices(Some(vec![LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(LinuxDeviceType::C)
        .access("rwx")
        .build()
        .unwrap()]));

    let err = guard.cgroup.apply(pid, Some(&resources)).unwrap_err();

    assert!(
        matches!(err, CgroupError::InvalidDeviceRule { .. }),
        "{err}"
    );
    let dirs = guard.cgroup.hierarchy.dirs(guard.cgroup.path());
    assert!(dirs.iter().all(|d| !d.exists()), "a cgroup was created");
}

#[test]
fn limits_the_kernel_may_lack_are_applied_or_skipped_but_never_fail() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c9").unwrap());
    let pid = guard.sleeper();
    let mut resources = typical_resources();
    let memory = LinuxMemoryBuilder::default()
        .limit(256i64 << 20)
        .kernel(64i64 << 20)
        .kernel_tcp(16i64 << 20)
        .build()
        .unwrap();
    resources.set_memory(Some(memory));
    resources.set_block_io(Some(
        LinuxBlockIoBuilder::default()
            .weight(500u16)
            .build()
            .unwrap(),
    ));
    resources.set_hugepage_limits(Some(vec![LinuxHugepageLimitBuilder::default()
        .page_size("2MB")
        .limit(4i64 << 21)
        .build()
        .unwrap()]));

    guard.cgroup.apply(pid, Some(&resources)).unwrap();

    assert_eq!(guard.cgroup.pids().unwrap(), vec![pid]);
    let limit_file = if host_is_v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(
        control_file(&guard.cgroup, "memory", limit_file),
        "268435456"
    );
}

/// A shell that, once `join` has put it in the cgroup, tries to open devices and reports each.
fn probe_devices_with(guard: &mut Guard, join: impl FnOnce(&ContainerCgroup, Pid)) -> Vec<String> {
    let script = "read _; for d in /dev/null /dev/kmsg /dev/net/tun; do \
                  if (: <> $d) 2>/dev/null; then echo \"$d open\"; else echo \"$d denied\"; fi; done";
    let pid = guard.spawn(
        Command::new("sh")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped()),
    );
    join(&guard.cgroup, pid);
    let child = guard.children.last_mut().unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    out.lines().map(Result::unwrap).collect()
}

fn probe_devices(guard: &mut Guard, resources: Option<&LinuxResources>) -> Vec<String> {
    probe_devices_with(guard, |cgroup, pid| cgroup.apply(pid, resources).unwrap())
}

fn allow_kmsg(mut resources: LinuxResources) -> LinuxResources {
    let kmsg = LinuxDeviceCgroupBuilder::default()
        .allow(true)
        .typ(LinuxDeviceType::C)
        .major(1)
        .minor(11)
        .access("rw")
        .build()
        .unwrap();
    let mut rules = resources.devices().clone().unwrap_or_default();
    rules.push(kmsg);
    resources.set_devices(Some(rules));
    resources
}

#[test]
fn devices_outside_the_allow_list_cannot_be_opened() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c10").unwrap());
    let seen = probe_devices(&mut guard, None);
    assert_eq!(
        seen,
        ["/dev/null open", "/dev/kmsg denied", "/dev/net/tun denied"]
    );
}

#[test]
fn the_spec_can_allow_more_devices() {
    let _serial = serial();
    let mut guard = Guard::new(ContainerCgroup::new(Some(&unique_path()), "c11").unwrap());
    let resources = allow_kmsg(typical_resources());
    let seen = probe_devices(&mut guard, Some(&resources));
    assert_eq!(
        seen,
        ["/dev/null open", "/dev/kmsg open", "/dev/net/tun denied"]
    );
}

/// On a hybrid host the unified hierarchy has no controllers but does have processes, the
/// freezer, cgroup.kill and device eBPF programs: enough to run the v2 code paths for real.
fn hybrid_unified() -> Option<Hierarchy> {
    let unified = Path::new("/sys/fs/cgroup/unified");
    let is_hybrid =
        !host_is_v2() && statfs(unified).is_ok_and(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC);
    if !is_hybrid {
        eprintln!("not a hybrid host: the v2 paths run in the other tests instead");
    }
    is_hybrid.then(|| Hierarchy::V2 {
        root: unified.into(),
    })
}

#[test]
fn v2_devices_freezer_and_removal_on_the_hybrid_unified_hierarchy() {
    let _serial = serial();
    let Some(unified) = hybrid_unified() else {
        return;
    };
    let cgroup = ContainerCgroup::resolve(unified, Some(&unique_path()), "c12").unwrap();
    let mut guard = Guard::new(cgroup);
    let seen = probe_devices(&mut guard, Some(&typical_resources_without_limits()));
    assert_eq!(
        seen,
        ["/dev/null open", "/dev/kmsg denied", "/dev/net/tun denied"]
    );

    // Replacing the program: the new list takes effect and the old program is detached.
    let dir = guard.cgroup.hierarchy.dirs(guard.cgroup.path()).remove(0);
    let rules = super::devices::rules(
        allow_kmsg(LinuxResources::default())
            .devices()
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    let seen = probe_devices_with(&mut guard, |cgroup, pid| {
        cgroup.add_task(pid).unwrap();
        super::devices::apply_v2(&dir, &rules).unwrap();
    });
    assert_eq!(
        seen,
        ["/dev/null open", "/dev/kmsg open", "/dev/net/tun denied"]
    );
    let cgroup_dir = std::fs::File::open(&dir).unwrap();
    let attached = libcgroups::v2::devices::bpf::prog::query(cgroup_dir.as_raw_fd()).unwrap();
    assert_eq!(
        attached.len(),
        1,
        "the old device program is still attached"
    );
    for program in attached {
        // SAFETY: `query` opened this descriptor for us and nothing else holds it.
        drop(unsafe { OwnedFd::from_raw_fd(program.fd) });
    }

    let pid = guard.spawn(Command::new("sh").args(["-c", "while :; do :; done"]));
    guard.cgroup.add_task(pid).unwrap();
    guard.cgroup.freeze().unwrap();
    assert!(guard.cgroup.is_frozen().unwrap());
    let frozen_at = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(cpu_ticks(pid), frozen_at, "a frozen process used CPU");
    assert!(guard.cgroup.pids().unwrap().contains(&pid));

    guard.cgroup.remove().unwrap();
    assert!(!dir.exists(), "{} left behind", dir.display());
    let status = guard.children.last_mut().unwrap().wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}

/// The hybrid unified hierarchy has no resource controllers, so only devices apply there.
fn typical_resources_without_limits() -> LinuxResources {
    let mut resources = LinuxResources::default();
    resources.set_devices(typical_resources().devices().clone());
    resources
}
