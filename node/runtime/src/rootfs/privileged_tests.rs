//! Privileged tests: a busybox rootfs in a tempdir is set up by a forked child in fresh
//! namespaces and checked from inside; the child reports through its exit code and a pipe.
//! Mounts live only in the child's mount namespace and vanish with it; tempdirs are dropped by
//! the parent. They need root and are skipped, saying so, without it.

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::mount::{self, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::stat::{major, minor};
use nix::sys::statfs::{self, FsType};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{self, ForkResult, Pid};
use oci_spec::runtime::Spec;
use serde_json::json;
use tempfile::TempDir;

use super::{mountinfo, pivot_and_finish, prepare};

const CONTAINER_NAMESPACES: CloneFlags = CloneFlags::CLONE_NEWNS
    .union(CloneFlags::CLONE_NEWPID)
    .union(CloneFlags::CLONE_NEWIPC)
    .union(CloneFlags::CLONE_NEWNET)
    .union(CloneFlags::CLONE_NEWUTS)
    .union(CloneFlags::CLONE_NEWCGROUP);

const MQUEUE_MAGIC: FsType = FsType(0x1980_0202);

fn is_root() -> bool {
    let root = unistd::geteuid().is_root();
    if !root {
        eprintln!("skipping privileged rootfs test: not running as root");
    }
    root
}

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// A bundle directory with a busybox rootfs and host-side material to bind.
struct Bundle {
    dir: TempDir,
    rootfs: PathBuf,
}

impl Bundle {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("berth-rootfs-test-")
            .tempdir()
            .unwrap();
        let rootfs = dir.path().join("rootfs");
        for sub in ["bin", "proc", "sys", "dev", "etc", "tmp"] {
            fs::create_dir_all(rootfs.join(sub)).unwrap();
        }
        fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
            .expect("these tests need /bin/busybox (Debian package busybox-static)");
        let list = std::process::Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .unwrap();
        for applet in String::from_utf8(list.stdout).unwrap().lines() {
            if applet != "busybox" {
                symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
            }
        }
        fs::create_dir(dir.path().join("host-data")).unwrap();
        fs::write(dir.path().join("host-data/hello"), "hello").unwrap();
        fs::write(dir.path().join("host-file"), "file").unwrap();
        let rootfs = rootfs.canonicalize().unwrap();
        Bundle { dir, rootfs }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().canonicalize().unwrap().join(rel)
    }

    /// A spec from `value`, which need not repeat `ociVersion` and `root`.
    fn spec(&self, mut value: serde_json::Value) -> Spec {
        let object = value.as_object_mut().unwrap();
        object.entry("ociVersion").or_insert(json!("1.0.2"));
        object.entry("root").or_insert(json!({"path": "rootfs"}));
        serde_json::from_value(value).unwrap()
    }

    /// Host mounts at or below the bundle: there must never be any.
    fn host_mounts(&self) -> Vec<PathBuf> {
        let dir = self.path("");
        mountinfo::read()
            .unwrap()
            .into_iter()
            .map(|m| m.mount_point)
            .filter(|p| p.starts_with(&dir))
            .collect()
    }
}

/// Forks a child that unshares `flags` and runs `check` (as PID 1 of a new PID namespace when
/// asked), returning its exit code and the message it reported. The check must not panic or
/// print: it runs in a fork of a multi-threaded test process.
fn in_namespaces(flags: CloneFlags, check: impl FnOnce() -> Result<(), String>) -> (i32, String) {
    in_namespaces_after(|| Ok(()), flags, check)
}

/// [`in_namespaces`], with `setup` run in the child before it unshares `flags`.
fn in_namespaces_after(
    setup: impl FnOnce() -> Result<(), String>,
    flags: CloneFlags,
    check: impl FnOnce() -> Result<(), String>,
) -> (i32, String) {
    let (read_end, write_end) = unistd::pipe2(OFlag::O_CLOEXEC).unwrap();
    // SAFETY: the child only runs `child_main`, which makes syscalls, allocates (glibc's fork
    // leaves malloc usable) and touches no lock another thread could hold, then `_exit`s.
    match unsafe { unistd::fork() }.unwrap() {
        ForkResult::Child => {
            drop(read_end);
            let code = child_main(setup, flags, &write_end, check);
            // SAFETY: _exit ends the forked child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let code = wait_with_timeout(child, Duration::from_secs(120));
            let mut message = String::new();
            fs::File::from(read_end)
                .read_to_string(&mut message)
                .unwrap();
            (code, message)
        }
    }
}

fn child_main(
    setup: impl FnOnce() -> Result<(), String>,
    flags: CloneFlags,
    report: &OwnedFd,
    check: impl FnOnce() -> Result<(), String>,
) -> i32 {
    if let Err(e) = setup() {
        return fail(report, &format!("setup: {e}"), 2);
    }
    if let Err(e) = nix::sched::unshare(flags) {
        return fail(report, &format!("unshare: {e}"), 2);
    }
    if !flags.contains(CloneFlags::CLONE_NEWPID) {
        return run_check(report, check);
    }
    // SAFETY: as in `in_namespaces_after`; this process is already single-threaded.
    match unsafe { unistd::fork() } {
        Ok(ForkResult::Child) => {
            // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and no pointers.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            let code = run_check(report, check);
            // SAFETY: as above.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => code,
            other => fail(report, &format!("container init ended with {other:?}"), 4),
        },
        Err(e) => fail(report, &format!("fork: {e}"), 2),
    }
}

fn run_check(report: &OwnedFd, check: impl FnOnce() -> Result<(), String>) -> i32 {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(check)) {
        Ok(Ok(())) => 0,
        Ok(Err(message)) => fail(report, &message, 1),
        Err(_) => fail(report, "check panicked", 3),
    }
}

fn fail(report: &OwnedFd, message: &str, code: i32) -> i32 {
    let _ = unistd::write(report, message.as_bytes());
    code
}

fn wait_with_timeout(child: Pid, timeout: Duration) -> i32 {
    let start = Instant::now();
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)).unwrap() {
            WaitStatus::StillAlive if start.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(20))
            }
            WaitStatus::StillAlive => {
                let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
                let _ = waitpid(child, None);
                panic!("test child timed out");
            }
            WaitStatus::Exited(_, code) => return code,
            other => panic!("test child ended with {other:?}"),
        }
    }
}

// ---- checks run inside the container -------------------------------------------------------

fn err_str<E: std::fmt::Display>(what: impl std::fmt::Display) -> impl FnOnce(E) -> String {
    move |e| format!("{what}: {e}")
}

fn read(path: &str) -> Result<String, String> {
    fs::read_to_string(path).map_err(err_str(path))
}

fn fs_type(path: &str) -> Result<FsType, String> {
    Ok(statfs::statfs(path)
        .map_err(err_str(path))?
        .filesystem_type())
}

fn mount_flags(path: &str) -> Result<FsFlags, String> {
    Ok(statvfs(path).map_err(err_str(path))?.flags())
}

/// Opening `path` for writing (creating it if missing) must fail with EROFS.
fn write_is_refused(path: &str) -> Result<(), String> {
    match fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
    {
        Err(e) if e.raw_os_error() == Some(libc::EROFS) => Ok(()),
        Err(e) => Err(format!("writing {path}: expected EROFS, got {e}")),
        Ok(_) => Err(format!("writing {path} succeeded on a read-only path")),
    }
}

fn char_device(path: &str, dev: (u64, u64), mode: u32, owner: (u32, u32)) -> Result<(), String> {
    let meta = fs::symlink_metadata(path).map_err(err_str(path))?;
    ensure!(
        meta.file_type().is_char_device(),
        "{path} is not a character device"
    );
    let found = (major(meta.rdev()), minor(meta.rdev()));
    ensure!(found == dev, "{path} is {found:?}, expected {dev:?}");
    ensure!(
        meta.permissions().mode() & 0o7777 == mode,
        "{path} has mode {:o}",
        meta.mode()
    );
    ensure!(
        (meta.uid(), meta.gid()) == owner,
        "{path} is owned by {}:{}",
        meta.uid(),
        meta.gid()
    );
    Ok(())
}

fn link_is(path: &str, target: &str) -> Result<(), String> {
    let found = fs::read_link(path).map_err(err_str(path))?;
    ensure!(
        found == Path::new(target),
        "{path} -> {found:?}, expected {target}"
    );
    Ok(())
}

// ---- tests ----------------------------------------------------------------------------------

/// The host's cgroup v1 hierarchy directories (empty on a cgroup v2 host).
fn host_v1_hierarchies() -> Vec<String> {
    mountinfo::read()
        .unwrap()
        .into_iter()
        .filter(|m| {
            m.fs_type == "cgroup" && m.mount_point.parent() == Some(Path::new("/sys/fs/cgroup"))
        })
        .filter_map(|m| m.mount_point.file_name()?.to_str().map(str::to_owned))
        .collect()
}

#[test]
fn full_container_view() {
    if !is_root() {
        return;
    }
    let bundle = Bundle::new();
    symlink("/data", bundle.rootfs.join("abs-link")).unwrap();
    let spec = bundle.spec(json!({
        "ociVersion": "1.0.2",
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
            {"destination": "/mnt/ro", "type": "bind", "source": bundle.path("host-data"), "options": ["rbind", "ro", "nosuid", "rprivate"]},
            {"destination": "/mnt/rro", "type": "none", "source": bundle.path("host-data"), "options": ["rbind", "rro"]},
            {"destination": "/etc/hostfile", "type": "bind", "source": bundle.path("host-file"), "options": ["bind", "ro"]},
            {"destination": "/abs-link/sub", "type": "bind", "source": bundle.path("host-data"), "options": ["rbind"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["mode=700", "size=1m"]},
            {"destination": "/ro-tmpfs", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "nosuid"]},
            {"destination": "/ro-tmpfs/inner", "type": "tmpfs", "source": "tmpfs"}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "network"}, {"type": "uts"}, {"type": "cgroup"}],
            "rootfsPropagation": "rslave",
            "devices": [
                {"path": "/dev/custom-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 1000, "gid": 1000},
                {"path": "/dev/fifo0", "type": "p", "major": 0, "minor": 0}
            ],
            "sysctl": {"kernel.shmmni": "1234", "net.ipv4.ip_forward": "1"},
            "maskedPaths": ["/proc/kcore", "/proc/interrupts", "/proc/timer_list", "/proc/acpi",
                            "/sys/firmware", "/proc/does-not-exist"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus"]
        }
    }));
    let rootfs = bundle.rootfs.clone();
    let host_dir = bundle.path("");
    let v1 = host_v1_hierarchies();
    let (code, message) = in_namespaces(CONTAINER_NAMESPACES, move || {
        prepare(&spec, &rootfs).map_err(err_str("prepare"))?;
        pivot_and_finish(&spec, &rootfs, false).map_err(err_str("pivot_and_finish"))?;
        check_root_and_proc(&host_dir)?;
        check_masks_and_readonly()?;
        check_binds()?;
        check_dev()?;
        check_cgroup(&v1)?;
        check_console()?;
        // Finally, busybox itself must work in the new root.
        let script = "[ \"$(cat /mnt/ro/hello)\" = hello ] && ! touch /x 2>/dev/null \
                      && echo ok > /dev/shm/ok && [ \"$(cat /dev/shm/ok)\" = ok ] && [ -c /dev/zero ] \
                      || exit 91";
        let args = [
            c"sh",
            c"-c",
            &CString::new(script).map_err(err_str("script"))?,
        ];
        unistd::execv(c"/bin/sh", &args).map_err(err_str("exec /bin/sh"))?;
        Ok(())
    });
    assert_eq!((code, message.as_str()), (0, ""), "container checks failed");
    assert_eq!(bundle.host_mounts(), Vec::<PathBuf>::new());
}

fn check_root_and_proc(host_dir: &Path) -> Result<(), String> {
    ensure!(
        unistd::getcwd().map_err(err_str("getcwd"))? == Path::new("/"),
        "cwd is not /"
    );
    ensure!(unistd::getpid().as_raw() == 1, "not PID 1");
    ensure!(
        Path::new("/bin/busybox").is_file(),
        "/bin/busybox missing: not the bundle's rootfs"
    );
    ensure!(
        !host_dir.exists(),
        "the host's {} is visible",
        host_dir.display()
    );
    ensure!(
        read("/proc/self/stat")?.starts_with("1 "),
        "/proc is not the container's"
    );
    ensure!(
        mount_flags("/")?.contains(FsFlags::ST_RDONLY),
        "root is not read-only"
    );
    write_is_refused("/newfile")?;
    ensure!(fs_type("/sys")? == statfs::SYSFS_MAGIC, "/sys is not sysfs");
    ensure!(
        mount_flags("/sys")?.contains(FsFlags::ST_RDONLY),
        "/sys is not read-only"
    );
    let run = fs::metadata("/run").map_err(err_str("/run"))?;
    ensure!(
        run.permissions().mode() & 0o777 == 0o700,
        "tmpfs data mode=700 was not applied"
    );
    ensure!(
        fs_type("/run")? == statfs::TMPFS_MAGIC,
        "/run is not a tmpfs"
    );
    ensure!(
        read("/proc/sys/kernel/shmmni")?.trim() == "1234",
        "sysctl kernel.shmmni not applied"
    );
    ensure!(
        read("/proc/sys/net/ipv4/ip_forward")?.trim() == "1",
        "sysctl net.ipv4.ip_forward not applied"
    );
    Ok(())
}

fn check_masks_and_readonly() -> Result<(), String> {
    let mut masked_files = 0;
    for path in ["/proc/kcore", "/proc/interrupts", "/proc/timer_list"] {
        if Path::new(path).exists() {
            char_device(path, (1, 3), 0o666, (0, 0))?;
            ensure!(read(path)?.is_empty(), "{path} is not empty");
            masked_files += 1;
        }
    }
    ensure!(masked_files > 0, "no masked /proc file could be checked");
    ensure!(
        fs_type("/sys/firmware")? == statfs::TMPFS_MAGIC,
        "/sys/firmware is not masked"
    );
    let entries = fs::read_dir("/sys/firmware")
        .map_err(err_str("/sys/firmware"))?
        .count();
    ensure!(entries == 0, "/sys/firmware shows {entries} entries");
    write_is_refused("/sys/firmware/x")?;
    write_is_refused("/proc/sys/kernel/shmmni")?;
    write_is_refused("/proc/sys/net/ipv4/ip_forward")?;
    if Path::new("/proc/sysrq-trigger").exists() {
        write_is_refused("/proc/sysrq-trigger")?;
    }
    ensure!(
        mount_flags("/proc/sys")?.contains(FsFlags::ST_RDONLY),
        "/proc/sys is not read-only"
    );
    ensure!(
        !mount_flags("/proc")?.contains(FsFlags::ST_RDONLY),
        "/proc itself became read-only"
    );
    Ok(())
}

fn check_binds() -> Result<(), String> {
    ensure!(read("/mnt/ro/hello")? == "hello", "ro bind content");
    write_is_refused("/mnt/ro/new")?;
    let flags = mount_flags("/mnt/ro")?;
    ensure!(
        flags.contains(FsFlags::ST_RDONLY | FsFlags::ST_NOSUID),
        "/mnt/ro flags {flags:?}"
    );
    write_is_refused("/mnt/rro/new")?;
    ensure!(read("/etc/hostfile")? == "file", "file bind content");
    write_is_refused("/etc/hostfile")?;
    // "/abs-link/sub" went through the absolute symlink abs-link -> /data, inside the root.
    ensure!(
        read("/data/sub/hello")? == "hello",
        "bind through an absolute symlink"
    );
    fs::write("/data/sub/written", "w").map_err(err_str("rw bind"))?;
    Ok(())
}

fn check_dev() -> Result<(), String> {
    for (path, dev) in [
        ("/dev/null", (1, 3)),
        ("/dev/zero", (1, 5)),
        ("/dev/full", (1, 7)),
        ("/dev/random", (1, 8)),
        ("/dev/urandom", (1, 9)),
        ("/dev/tty", (5, 0)),
    ] {
        char_device(path, dev, 0o666, (0, 0))?;
    }
    char_device("/dev/custom-null", (1, 3), 0o600, (1000, 1000))?;
    let fifo = fs::symlink_metadata("/dev/fifo0").map_err(err_str("/dev/fifo0"))?;
    ensure!(fifo.file_type().is_fifo(), "/dev/fifo0 is not a FIFO");
    link_is("/dev/ptmx", "pts/ptmx")?;
    link_is("/dev/fd", "/proc/self/fd")?;
    link_is("/dev/stdin", "/proc/self/fd/0")?;
    link_is("/dev/stdout", "/proc/self/fd/1")?;
    link_is("/dev/stderr", "/proc/self/fd/2")?;
    ensure!(
        fs_type("/dev/pts")? == statfs::DEVPTS_SUPER_MAGIC,
        "/dev/pts is not devpts"
    );
    let ptmx = nix::fcntl::open(
        "/dev/ptmx",
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    );
    ensure!(ptmx.is_ok(), "opening /dev/ptmx: {ptmx:?}");
    ensure!(
        fs_type("/dev/mqueue")? == MQUEUE_MAGIC,
        "/dev/mqueue is not mqueue"
    );
    fs::write("/dev/shm/x", "x").map_err(err_str("/dev/shm"))?;
    Ok(())
}

fn check_cgroup(v1: &[String]) -> Result<(), String> {
    ensure!(
        mount_flags("/sys/fs/cgroup")?.contains(FsFlags::ST_RDONLY),
        "/sys/fs/cgroup is not read-only"
    );
    if v1.is_empty() {
        ensure!(
            fs_type("/sys/fs/cgroup")? == statfs::CGROUP2_SUPER_MAGIC,
            "no cgroup2 mount"
        );
        ensure!(
            Path::new("/sys/fs/cgroup/cgroup.controllers").exists(),
            "cgroup2 is empty"
        );
        return Ok(());
    }
    for dir in v1 {
        let path = format!("/sys/fs/cgroup/{dir}");
        ensure!(
            fs_type(&path)? == statfs::CGROUP_SUPER_MAGIC,
            "{path} is not a cgroup v1 mount"
        );
        ensure!(
            mount_flags(&path)?.contains(FsFlags::ST_RDONLY),
            "{path} is not read-only"
        );
        ensure!(
            Path::new(&path).join("cgroup.procs").exists(),
            "{path} has no cgroup.procs"
        );
        write_is_refused(&format!("{path}/cgroup.procs"))?;
    }
    Ok(())
}

/// A fresh pty of the container's devpts, bound over /dev/console, carries what is written to it.
fn check_console() -> Result<(), String> {
    use nix::pty;
    let master = pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY).map_err(err_str("openpt"))?;
    pty::grantpt(&master).map_err(err_str("grantpt"))?;
    pty::unlockpt(&master).map_err(err_str("unlockpt"))?;
    let slave = pty::ptsname_r(&master).map_err(err_str("ptsname"))?;
    ensure!(slave.starts_with("/dev/pts/"), "pty slave {slave}");
    super::bind_console(Path::new(&slave)).map_err(err_str("bind_console"))?;
    let (console, pts) = (fs::metadata("/dev/console"), fs::metadata(&slave));
    let (console, pts) = (
        console.map_err(err_str("/dev/console"))?,
        pts.map_err(err_str(&slave))?,
    );
    ensure!(
        console.file_type().is_char_device(),
        "/dev/console is not a device"
    );
    ensure!(console.rdev() == pts.rdev(), "/dev/console is not {slave}");
    fs::write("/dev/console", "hi").map_err(err_str("writing /dev/console"))?;
    let mut buf = [0u8; 2];
    let n =
        unistd::read(master.as_raw_fd(), &mut buf).map_err(err_str("reading the pty master"))?;
    ensure!(&buf[..n] == b"hi", "pty master read {:?}", &buf[..n]);
    Ok(())
}

/// In a user namespace mknod is not permitted: devices are bind-mounted from the host, and a
/// read-only bind of a mount whose nosuid/nodev are locked keeps them.
#[test]
fn user_namespace_binds_devices_and_keeps_locked_flags() {
    if !is_root() {
        return;
    }
    let bundle = Bundle::new();
    let locked = bundle.path("locked");
    fs::create_dir(&locked).unwrap();
    let spec = bundle.spec(json!({
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"]},
            {"destination": "/mnt/locked", "type": "bind", "source": &locked, "options": ["rbind", "ro"]}
        ],
        "linux": {"maskedPaths": ["/proc/interrupts"], "readonlyPaths": ["/proc/sys"]}
    }));
    let rootfs = bundle.rootfs.clone();
    // A nosuid,nodev tmpfs made in a mount namespace of the initial user namespace: its flags
    // are locked once the mount is copied into a namespace owned by a new user namespace.
    let setup = move || {
        nix::sched::unshare(CloneFlags::CLONE_NEWNS).map_err(err_str("unshare"))?;
        let private = MsFlags::MS_PRIVATE | MsFlags::MS_REC;
        mount::mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
            .map_err(err_str("rprivate"))?;
        let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        mount::mount(Some("tmpfs"), &locked, Some("tmpfs"), flags, None::<&str>)
            .map_err(err_str("tmpfs"))?;
        fs::write(locked.join("f"), "locked").map_err(err_str("locked file"))
    };
    let flags = CloneFlags::CLONE_NEWUSER
        | CloneFlags::CLONE_NEWNS
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNET;
    let (code, message) = in_namespaces_after(setup, flags, move || {
        fs::write("/proc/self/setgroups", "deny").map_err(err_str("setgroups"))?;
        fs::write("/proc/self/uid_map", "0 0 1").map_err(err_str("uid_map"))?;
        fs::write("/proc/self/gid_map", "0 0 1").map_err(err_str("gid_map"))?;
        prepare(&spec, &rootfs).map_err(err_str("prepare"))?;
        pivot_and_finish(&spec, &rootfs, false).map_err(err_str("pivot_and_finish"))?;
        char_device("/dev/null", (1, 3), 0o666, (0, 0))?;
        fs::write("/dev/null", "x").map_err(err_str("writing the bound /dev/null"))?;
        char_device("/dev/tty", (5, 0), 0o666, (0, 0))?;
        let mountinfo = read("/proc/self/mountinfo")?;
        ensure!(
            mountinfo.contains(" /dev/null "),
            "/dev/null is not a bind mount"
        );
        char_device("/proc/interrupts", (1, 3), 0o666, (0, 0))?;
        write_is_refused("/proc/sys/kernel/shmmni")?;
        ensure!(read("/mnt/locked/f")? == "locked", "locked bind content");
        write_is_refused("/mnt/locked/new")?;
        let flags = mount_flags("/mnt/locked")?;
        let want = FsFlags::ST_RDONLY | FsFlags::ST_NOSUID | FsFlags::ST_NODEV;
        ensure!(flags.contains(want), "/mnt/locked has {flags:?}");
        Ok(())
    });
    assert_eq!((code, message.as_str()), (0, ""), "container checks failed");
    assert_eq!(bundle.host_mounts(), Vec::<PathBuf>::new());
}

#[test]
fn no_pivot_fallback_moves_and_chroots() {
    if !is_root() {
        return;
    }
    let bundle = Bundle::new();
    let spec = bundle.spec(json!({
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["mode=755"]}
        ],
        "linux": {"maskedPaths": ["/proc/interrupts"], "readonlyPaths": ["/proc/sys"]}
    }));
    let rootfs = bundle.rootfs.clone();
    let host_dir = bundle.path("");
    let flags = CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID;
    let (code, message) = in_namespaces(flags, move || {
        prepare(&spec, &rootfs).map_err(err_str("prepare"))?;
        pivot_and_finish(&spec, &rootfs, true).map_err(err_str("pivot_and_finish"))?;
        ensure!(
            unistd::getcwd().map_err(err_str("getcwd"))? == Path::new("/"),
            "cwd is not /"
        );
        ensure!(
            Path::new("/bin/busybox").is_file(),
            "not in the bundle's rootfs"
        );
        ensure!(
            !host_dir.exists(),
            "the host's {} is visible",
            host_dir.display()
        );
        ensure!(
            read("/proc/self/stat")?.starts_with("1 "),
            "/proc is not the container's"
        );
        char_device("/dev/null", (1, 3), 0o666, (0, 0))?;
        char_device("/proc/interrupts", (1, 3), 0o666, (0, 0))?;
        write_is_refused("/proc/sys/kernel/shmmni")
    });
    assert_eq!((code, message.as_str()), (0, ""), "container checks failed");
    assert_eq!(bundle.host_mounts(), Vec::<PathBuf>::new());
}

/// Runs `prepare` in a new mount namespace and expects it to fail with `expected` in the
/// message, with no mount below `forbidden` in that namespace and none on the host.
fn expect_prepare_error(bundle: &Bundle, spec: Spec, expected: &str, forbidden: &Path) {
    let rootfs = bundle.rootfs.clone();
    let expected_owned = expected.to_owned();
    let forbidden = forbidden.to_path_buf();
    let (code, message) = in_namespaces(CloneFlags::CLONE_NEWNS, move || {
        let err = match prepare(&spec, &rootfs) {
            Ok(()) => return Err("prepare succeeded".to_owned()),
            Err(e) => e.to_string(),
        };
        ensure!(err.contains(&expected_owned), "unexpected error: {err}");
        let mounts = mountinfo::read().map_err(err_str("mountinfo"))?;
        let bad: Vec<_> = mounts
            .iter()
            .filter(|m| m.mount_point.starts_with(&forbidden))
            .collect();
        ensure!(
            bad.is_empty(),
            "mounted at {:?}",
            bad.iter().map(|m| &m.mount_point).collect::<Vec<_>>()
        );
        Ok(())
    });
    assert_eq!(
        (code, message.as_str()),
        (0, ""),
        "expected error {expected:?}"
    );
    assert_eq!(bundle.host_mounts(), Vec::<PathBuf>::new());
}

#[test]
fn escaping_symlink_destination_is_rejected_and_mounts_nothing() {
    if !is_root() {
        return;
    }
    let bundle = Bundle::new();
    fs::create_dir(bundle.path("outside")).unwrap();
    symlink("../outside", bundle.rootfs.join("escape")).unwrap();
    let spec = bundle.spec(json!({
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/escape/sub", "type": "tmpfs", "source": "tmpfs"}
        ]
    }));
    expect_prepare_error(
        &bundle,
        spec,
        "mount destination /escape/sub escapes the container root through symlink /escape -> ../outside",
        &bundle.path("outside"),
    );
    assert!(
        !bundle.path("outside/sub").exists(),
        "created outside the root"
    );
    assert!(
        !bundle.rootfs.join("outside").exists(),
        "clamped instead of refused"
    );
}

#[test]
fn proc_must_be_a_plain_directory() {
    if !is_root() {
        return;
    }
    let proc_spec = json!({
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}]
    });
    let expected = "refusing to mount proc on /proc: it is not a plain directory";

    let bundle = Bundle::new();
    fs::remove_dir(bundle.rootfs.join("proc")).unwrap();
    symlink("/tmp", bundle.rootfs.join("proc")).unwrap();
    expect_prepare_error(
        &bundle,
        bundle.spec(proc_spec.clone()),
        expected,
        &bundle.rootfs.join("tmp"),
    );

    let bundle = Bundle::new();
    fs::remove_dir(bundle.rootfs.join("proc")).unwrap();
    fs::write(bundle.rootfs.join("proc"), "").unwrap();
    expect_prepare_error(
        &bundle,
        bundle.spec(proc_spec),
        expected,
        &bundle.rootfs.join("proc"),
    );
}

#[test]
fn bind_onto_procfs_is_refused() {
    if !is_root() {
        return;
    }
    let bundle = Bundle::new();
    let spec = bundle.spec(json!({
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/proc/sys/kernel", "type": "bind", "source": bundle.path("host-data"), "options": ["rbind"]}
        ]
    }));
    let expected = format!(
        "refusing to bind-mount {} onto /proc/sys/kernel: the target is on procfs",
        bundle.path("host-data").display()
    );
    expect_prepare_error(&bundle, spec, &expected, &bundle.rootfs.join("proc/sys"));
}

#[test]
fn fake_dev_null_is_not_used_for_masking() {
    if !is_root() {
        return;
    }
    let bundle = Bundle::new();
    // No /dev tmpfs: the image's own /dev/null, a regular file, stays in place.
    fs::write(bundle.rootfs.join("dev/null"), "not a device").unwrap();
    let spec = bundle.spec(json!({
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"maskedPaths": ["/proc/interrupts"]}
    }));
    let rootfs = bundle.rootfs.clone();
    let (code, message) = in_namespaces(
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID,
        move || {
            prepare(&spec, &rootfs).map_err(err_str("prepare"))?;
            let err = match pivot_and_finish(&spec, &rootfs, false) {
                Ok(()) => return Err("masking with a fake /dev/null succeeded".to_owned()),
                Err(e) => e.to_string(),
            };
            let expected = "refusing to mask /proc/interrupts: /dev/null in the container is not the character device 1:3";
            ensure!(err == expected, "unexpected error: {err}");
            ensure!(
                read("/proc/interrupts")?.contains("CPU0"),
                "/proc/interrupts was masked anyway"
            );
            Ok(())
        },
    );
    assert_eq!((code, message.as_str()), (0, ""));
}

#[test]
fn host_wide_sysctl_fails_before_the_pivot() {
    // Runs unprivileged: validation happens before anything is changed.
    let bundle = Bundle::new();
    let spec = bundle.spec(json!({
        "linux": {"namespaces": [{"type": "ipc"}], "sysctl": {"kernel.pid_max": "100"}}
    }));
    let err = pivot_and_finish(&spec, &bundle.rootfs, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sysctl kernel.pid_max: is not namespaced; setting it would change the host"
    );
    // Still on the host's root: the bundle is visible by its host path.
    assert!(bundle.rootfs.join("bin/busybox").exists());
}
