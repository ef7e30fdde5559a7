//! From inside a busybox container: it is PID 1 with its own hostname, and it sees the bundle's
//! rootfs and nothing of the host's files.

use std::collections::BTreeSet;
use std::fs;

use berth_tests::TestEnv;

#[test]
fn init_is_pid_1_with_the_configured_hostname() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("pid1").unwrap();
    bundle
        .hostname("berth-pid1-host")
        .env("BERTH_GREETING=hello")
        .shell("echo pid=$$; hostname; cat /proc/sys/kernel/hostname; echo $BERTH_GREETING");

    let out = env.run(&bundle).unwrap();
    out.assert_success();
    assert_eq!(
        out.stdout,
        "pid=1\nberth-pid1-host\nberth-pid1-host\nhello\n"
    );
    env.assert_nothing_left(&bundle);
}

#[test]
fn rootfs_is_the_bundles_and_host_files_are_invisible() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("rootfs").unwrap();
    let marker = format!("rootfs of {}", bundle.id());
    fs::write(bundle.rootfs().join("berth-marker"), &marker).unwrap();

    // Files that exist on the host and must not exist in the container.
    let host_secret = env.scratch().join("host-secret");
    fs::write(&host_secret, "host only").unwrap();
    let mut host_only = vec![host_secret.display().to_string()];
    host_only.extend(
        ["/etc/debian_version", "/etc/os-release", "/usr/bin/env"]
            .into_iter()
            .filter(|p| fs::metadata(p).is_ok())
            .map(String::from),
    );
    assert!(
        !bundle.rootfs().join("usr/bin/env").exists(),
        "the busybox rootfs must not ship /usr/bin/env"
    );

    bundle.shell(&format!(
        "cat /berth-marker; echo; ls -a /; for p in {}; do test -e $p && echo VISIBLE:$p; done; true",
        host_only.join(" ")
    ));
    let out = env.run(&bundle).unwrap();
    out.assert_success();

    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some(marker.as_str()));
    let inside: BTreeSet<&str> = lines
        .by_ref()
        .take_while(|l| !l.starts_with("VISIBLE:"))
        .filter(|l| *l != "." && *l != "..")
        .collect();
    let on_disk: BTreeSet<String> = fs::read_dir(bundle.rootfs())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let on_disk: BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
    assert_eq!(
        inside, on_disk,
        "`ls /` in the container vs the bundle's rootfs"
    );
    assert!(
        !out.stdout.contains("VISIBLE:"),
        "host files visible in the container:\n{}",
        out.stdout
    );
    env.assert_nothing_left(&bundle);
}
