//! SECURITY.md items 16 to 22, each checked against a real container: the sealed self-exec, no
//! leaked descriptors, the cwd check, a refused `/proc` symlink, capabilities, no_new_privs,
//! masked and read-only paths, and the device cgroup.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{symlink, MetadataExt};

use berth_tests::mounts::parse_mountinfo;
use berth_tests::procfs::capability_mask;
use berth_tests::spec::{DOCKER_CAPABILITY_MASK, MASKED_PATHS, READONLY_PATHS};
use berth_tests::TestEnv;
use oci_spec::runtime::Capability;

/// Item 16: while the container is `created`, its init runs the runtime from a sealed view
/// (a lower-only overlayfs, or a sealed memfd), never from the host binary, so a process in
/// the container cannot rewrite the runtime through `/proc/<pid>/exe` (CVE-2019-5736).
#[test]
fn init_runs_from_a_sealed_copy_of_the_runtime() {
    let env = TestEnv::new().unwrap();
    if !env.runtime().is_berth() {
        // runc 1.1 protects itself with a read-only bind mount of the same inode instead.
        eprintln!("skipped: the sealed-view check applies to berth-runtime only");
        return;
    }
    let host_before = fs::read(env.runtime().binary()).unwrap();
    let mut bundle = env.bundle("sealed").unwrap();
    bundle.args(&["sleep", "1000"]);
    env.create(&bundle).unwrap().assert_success();
    let pid = env.state(bundle.id()).unwrap().pid;
    let exe = format!("/proc/{pid}/exe");

    let host = fs::metadata(env.runtime().binary()).unwrap();
    let seen = fs::metadata(&exe).unwrap();
    assert!(
        (seen.dev(), seen.ino()) != (host.dev(), host.ino()),
        "init runs the host's runtime binary itself"
    );
    assert!(
        berth_runtime::seal::is_sealed_file(&fs::File::open(&exe).unwrap()),
        "init's exe is neither a sealed memfd nor on a read-only overlay"
    );
    if let Ok(mut writer) = OpenOptions::new().write(true).open(&exe) {
        assert!(
            writer.write_all(b"x").is_err(),
            "the sealed copy took a write"
        );
    }
    assert!(
        fs::read(env.runtime().binary()).unwrap() == host_before,
        "the host binary changed"
    );

    env.call(&["delete", "--force", bundle.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&bundle);
}

/// The descriptor numbers open in a host process.
fn open_fds(pid: i32) -> HashSet<i32> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
        .collect()
}

/// Item 17: nothing but stdio reaches the container's processes, neither init nor an exec.
#[test]
fn no_runtime_descriptor_leaks_into_the_container() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("fds").unwrap();
    bundle.args(&["sleep", "1000"]);
    let init = env.create_and_start(&bundle).unwrap().pid;
    let stdio: HashSet<i32> = [0, 1, 2].into();
    assert_eq!(open_fds(init), stdio, "descriptors of init");

    let pid_file = env.scratch().join("exec.pid");
    let pid_arg = pid_file.to_string_lossy().into_owned();
    env.call(&[
        "exec",
        "-d",
        "--pid-file",
        &pid_arg,
        bundle.id(),
        "sleep",
        "1000",
    ])
    .unwrap()
    .assert_success();
    let exec_pid: i32 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        open_fds(exec_pid),
        stdio,
        "descriptors of an exec'd process"
    );

    env.call(&["delete", "--force", bundle.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&bundle);
}

/// Item 17 (CVE-2024-21626): a cwd that would resolve outside the rootfs, through a leaked
/// descriptor or `..`, is refused or stays inside the container.
#[test]
fn cwd_outside_the_rootfs_is_refused() {
    let env = TestEnv::new().unwrap();
    let host_dir = env.scratch().join("host-only-dir");
    fs::create_dir(&host_dir).unwrap();
    fs::write(host_dir.join("secret"), "host").unwrap();
    let secret = host_dir.join("secret").display().to_string();

    let mut cwds: Vec<String> = (3..=9).map(|fd| format!("/proc/self/fd/{fd}")).collect();
    cwds.push(format!("/../../../../../../..{}", host_dir.display()));
    for cwd in cwds {
        let mut bundle = env.bundle("cwd").unwrap();
        // From a cwd outside the root, `..` climbs to the host's root, where the relative
        // path `.<secret>` exists; from inside, it stops at the container's root.
        bundle.cwd(&cwd).shell(&format!(
            "test -e secret && echo ESCAPED-CWD; cd ../../../../../../../..; \
             test -e .{secret} && echo ESCAPED-ROOT; echo done"
        ));
        let out = env.run(&bundle).unwrap();
        if out.status.success() {
            assert_eq!(out.stdout, "done\n", "cwd {cwd}: the process escaped");
        } else {
            out.assert_clean_failure();
        }
        env.assert_nothing_left(&bundle);
    }
}

/// Item 18 (CVE-2019-19921): a rootfs whose `/proc` is a symlink is refused.
#[test]
fn proc_symlink_in_the_rootfs_is_refused() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("procsym").unwrap();
    let rootfs = bundle.rootfs();
    fs::remove_dir(rootfs.join("proc")).unwrap();
    fs::create_dir(rootfs.join("tmp/fake-proc")).unwrap();
    symlink("tmp/fake-proc", rootfs.join("proc")).unwrap();
    bundle.args(&["true"]);

    env.create(&bundle).unwrap().assert_clean_failure();
    env.assert_nothing_left(&bundle);
    assert!(env.call(&["state", bundle.id()]).unwrap().code() != Some(0));
}

/// Items 19 and 20: the process gets Docker's capabilities, an empty inheritable and ambient
/// set, and no_new_privs.
#[test]
fn capabilities_are_dockers_and_no_new_privs_is_set() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("caps").unwrap();
    bundle.args(&["cat", "/proc/self/status"]);
    let out = env.run(&bundle).unwrap();
    out.assert_success();
    let status = out.stdout.as_str();

    assert_eq!(capability_mask(status, "CapInh").unwrap(), 0, "{status}");
    assert_eq!(capability_mask(status, "CapAmb").unwrap(), 0, "{status}");
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        assert_eq!(
            capability_mask(status, set).unwrap(),
            DOCKER_CAPABILITY_MASK,
            "{set} in\n{status}"
        );
    }
    assert_eq!(
        berth_tests::procfs::status_field(status, "NoNewPrivs"),
        Some("1")
    );
    env.assert_nothing_left(&bundle);
}

/// Item 19: the inheritable set holds exactly what the spec asks for.
#[test]
fn inheritable_capabilities_are_only_what_the_spec_asks() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("inh").unwrap();
    bundle.args(&["cat", "/proc/self/status"]);
    let process = bundle.spec_mut().process_mut().as_mut().unwrap();
    let mut caps = process.capabilities().clone().unwrap();
    caps.set_inheritable(Some([Capability::Kill].into_iter().collect()));
    process.set_capabilities(Some(caps));

    let out = env.run(&bundle).unwrap();
    out.assert_success();
    let kill_bit = 1u64 << 5;
    assert_eq!(capability_mask(&out.stdout, "CapInh").unwrap(), kill_bit);
    env.assert_nothing_left(&bundle);
}

/// Item 20: `noNewPrivileges: false` is honoured too (the flag is not forced on).
#[test]
fn no_new_privileges_false_is_honoured() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("nnp").unwrap();
    bundle
        .no_new_privileges(false)
        .args(&["cat", "/proc/self/status"]);
    let out = env.run(&bundle).unwrap();
    out.assert_success();
    assert_eq!(
        berth_tests::procfs::status_field(&out.stdout, "NoNewPrivs"),
        Some("0")
    );
}

/// Item 21: masked paths read as empty, read-only paths are read-only mounts and refuse
/// writes.
#[test]
fn masked_paths_are_empty_and_readonly_paths_are_read_only() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("masked").unwrap();
    // For each masked path the container prints `<path> <kind> <bytes or entries>`.
    let mut script = String::new();
    for path in MASKED_PATHS {
        script.push_str(&format!(
            "if [ -d {path} ]; then echo \"{path} dir $(ls -A {path} | wc -l)\"; \
             elif [ -e {path} ]; then echo \"{path} file $(head -c 1 {path} | wc -c)\"; \
             else echo \"{path} absent\"; fi; "
        ));
    }
    script.push_str(
        "if echo berth > /proc/sys/kernel/domainname; then echo WRITABLE-PROC-SYS; fi; \
         if touch /sys/firmware/berth; then echo WRITABLE-MASK; fi; \
         echo ---; cat /proc/self/mountinfo",
    );
    bundle.shell(&script);
    let out = env.run(&bundle).unwrap();
    out.assert_success();
    let (masked, mountinfo) = out.stdout.split_once("---\n").unwrap();

    for line in masked.lines() {
        let mut words = line.split(' ');
        let (path, kind) = (words.next().unwrap(), words.next().unwrap());
        if kind == "absent" {
            assert!(
                fs::metadata(path).is_err(),
                "{path} exists on the host but not in the container"
            );
        } else {
            assert_eq!(words.next(), Some("0"), "{path} is not masked: {line}");
        }
    }
    assert!(!masked.contains("WRITABLE"), "{masked}");

    let mounts = parse_mountinfo(mountinfo);
    for path in READONLY_PATHS {
        if fs::metadata(path).is_err() {
            continue;
        }
        let mount = mounts
            .iter()
            .rev()
            .find(|m| m.mount_point.as_os_str() == path)
            .unwrap_or_else(|| panic!("no mount at {path} in the container:\n{mountinfo}"));
        assert!(
            mount.is_read_only(),
            "{path} is mounted {:?}",
            mount.options
        );
    }
    env.assert_nothing_left(&bundle);
}

/// Item 22: the device cgroup allows the default devices and denies the rest, even to root
/// with CAP_MKNOD: the host's root disk and fuse cannot be opened.
#[test]
fn device_cgroup_denies_devices_outside_the_default_set() {
    let env = TestEnv::new().unwrap();
    let root_dev = fs::metadata("/").unwrap().dev();
    let (major, minor) = (
        nix::sys::stat::major(root_dev),
        nix::sys::stat::minor(root_dev),
    );
    let mut bundle = env.bundle("devices").unwrap();
    // mknod is allowed (CAP_MKNOD and the cgroup's `m` rule); opening the node is not.
    bundle.shell(&format!(
        "echo ok > /dev/null && echo null-ok; \
         head -c 4 /dev/urandom | wc -c; \
         head -c 4 /dev/zero | wc -c; \
         mknod /tmp/disk b {major} {minor} || echo MKNOD-FAILED; \
         dd if=/tmp/disk of=/dev/null bs=1 count=1 2>/dev/null && echo DISK-READABLE; \
         mknod /tmp/fuse c 10 229 || echo MKNOD-FAILED; \
         dd if=/tmp/fuse of=/dev/null count=0 2>/dev/null && echo FUSE-OPEN; \
         true"
    ));
    let out = env.run(&bundle).unwrap();
    out.assert_success();
    assert_eq!(out.stdout, "null-ok\n4\n4\n", "stderr: {}", out.stderr);
    env.assert_nothing_left(&bundle);
}
