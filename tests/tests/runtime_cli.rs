//! The shape of the informational commands: `list`, `ps`, `spec` and `features`.

use std::fs;

use berth_tests::ids::{cgroups_path_for, unique_id};
use berth_tests::rootfs::build_busybox_rootfs;
use berth_tests::TestEnv;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde_json::Value;

#[test]
fn list_shows_every_container_with_its_status() {
    let env = TestEnv::new().unwrap();
    let mut created = env.bundle("listc").unwrap();
    created.args(&["sleep", "1000"]);
    env.create(&created).unwrap().assert_success();
    let mut running = env.bundle("listr").unwrap();
    running.args(&["sleep", "1000"]);
    env.create_and_start(&running).unwrap();

    let quiet = env.call(&["list", "-q"]).unwrap();
    quiet.assert_success();
    let mut ids: Vec<&str> = quiet.stdout.lines().collect();
    ids.sort_unstable();
    let mut expected = vec![created.id(), running.id()];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let json = env.call(&["list", "--format", "json"]).unwrap();
    json.assert_success();
    let list: Vec<Value> = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(list.len(), 2, "{}", json.stdout);
    for (bundle, status) in [(&created, "created"), (&running, "running")] {
        let entry = list
            .iter()
            .find(|c| c["id"] == bundle.id())
            .unwrap_or_else(|| panic!("{} missing from {}", bundle.id(), json.stdout));
        assert_eq!(entry["status"], status);
        assert!(entry["pid"].as_i64().is_some_and(|p| p > 0), "{entry}");
        assert_eq!(
            fs::canonicalize(entry["bundle"].as_str().unwrap()).unwrap(),
            fs::canonicalize(bundle.dir()).unwrap()
        );
    }

    let table = env.call(&["list"]).unwrap();
    table.assert_success();
    let mut lines = table.stdout.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.contains("ID") && header.contains("STATUS"),
        "{header}"
    );
    for (bundle, status) in [(&created, "created"), (&running, "running")] {
        assert!(
            lines
                .clone()
                .any(|l| l.starts_with(bundle.id()) && l.contains(status)),
            "{}",
            table.stdout
        );
    }

    for bundle in [&created, &running] {
        env.call(&["delete", "--force", bundle.id()])
            .unwrap()
            .assert_success();
        env.assert_nothing_left(bundle);
    }
}

#[test]
fn ps_lists_the_container_processes() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("ps").unwrap();
    bundle.args(&["sleep", "1000"]);
    let pid = env.create_and_start(&bundle).unwrap().pid;

    let out = env.call(&["ps", bundle.id()]).unwrap();
    out.assert_success();
    let mut lines = out.stdout.lines();
    let header = lines.next().unwrap_or_default();
    assert!(header.split_whitespace().any(|w| w == "PID"), "{header}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 1, "{}", out.stdout);
    assert!(
        rows[0].split_whitespace().any(|w| w == pid.to_string()),
        "{}",
        out.stdout
    );

    env.call(&["delete", "--force", bundle.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&bundle);
}

#[test]
fn spec_writes_a_runnable_default_config() {
    let env = TestEnv::new().unwrap();
    let dir = env.scratch().join("spec-bundle");
    fs::create_dir(&dir).unwrap();
    let mut command = env.command(&["spec"]);
    command.current_dir(&dir);
    env.finish(command).unwrap().assert_success();

    let text = fs::read_to_string(dir.join("config.json")).unwrap();
    let spec: Spec = serde_json::from_str(&text).unwrap();
    assert_eq!(
        spec.root().as_ref().unwrap().path().to_str(),
        Some("rootfs")
    );
    assert!(spec.process().as_ref().unwrap().args().is_some());
    let linux = spec.linux().as_ref().unwrap();
    let namespaces: Vec<LinuxNamespaceType> = linux
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    for wanted in [
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Network,
    ] {
        assert!(namespaces.contains(&wanted), "{wanted:?} missing: {text}");
    }
    // Not rootless: no user namespace, no id mappings.
    assert!(!namespaces.contains(&LinuxNamespaceType::User));
    assert!(linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()));

    // The default config runs a busybox rootfs as it is, bar a command and a test cgroup.
    build_busybox_rootfs(&dir.join("rootfs")).unwrap();
    let id = unique_id("spec");
    let cgroups_path = cgroups_path_for(&id);
    env.track(&id, &cgroups_path);
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["process"]["terminal"] = false.into();
    value["process"]["args"] = serde_json::json!(["sh", "-c", "echo spec-$((1+1))"]);
    value["linux"]["cgroupsPath"] = cgroups_path.clone().into();
    fs::write(dir.join("config.json"), value.to_string()).unwrap();
    let out = env
        .call(&["run", "--bundle", &dir.to_string_lossy(), &id])
        .unwrap();
    out.assert_success();
    assert_eq!(out.stdout, "spec-2\n");
    assert!(env
        .leftovers_of(&id, &cgroups_path, &dir)
        .unwrap()
        .is_empty());
}

#[test]
fn features_prints_the_oci_features_document() {
    let env = TestEnv::new().unwrap();
    let out = env.call(&["features"]).unwrap();
    out.assert_success();
    let features: Value = serde_json::from_str(&out.stdout).unwrap();

    for key in ["ociVersionMin", "ociVersionMax"] {
        assert!(
            features[key].as_str().is_some_and(|v| v.starts_with("1.")),
            "{key}: {features}"
        );
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not an array: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    let hooks = strings(&features["hooks"]);
    for hook in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.iter().any(|h| h == hook), "hook {hook}: {hooks:?}");
    }
    let options = strings(&features["mountOptions"]);
    for option in [
        "bind", "rbind", "ro", "nosuid", "nodev", "noexec", "rprivate",
    ] {
        assert!(options.iter().any(|o| o == option), "mount option {option}");
    }
    let namespaces = strings(&features["linux"]["namespaces"]);
    for ns in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(namespaces.iter().any(|n| n == ns), "namespace {ns}");
    }
    let capabilities = strings(&features["linux"]["capabilities"]);
    for cap in ["CAP_CHOWN", "CAP_SYS_ADMIN", "CAP_NET_RAW"] {
        assert!(capabilities.iter().any(|c| c == cap), "capability {cap}");
    }
    assert!(features["linux"]["cgroup"]["v1"].is_boolean(), "{features}");
    assert!(features["linux"]["cgroup"]["v2"].is_boolean(), "{features}");
    assert!(
        features["linux"]["seccomp"]["enabled"].is_boolean(),
        "{features}"
    );
}

/// `--log F --log-format json` writes runc's record shape, which containerd parses for the
/// error of a failed call.
#[test]
fn json_log_records_carry_level_msg_and_time() {
    let env = TestEnv::new().unwrap();
    let log = env.scratch().join("runtime.log");
    let log_arg = log.to_string_lossy().into_owned();
    env.call(&[
        "--log",
        &log_arg,
        "--log-format",
        "json",
        "state",
        "no-such-container",
    ])
    .unwrap()
    .assert_clean_failure();
    let text = std::fs::read_to_string(&log).unwrap();
    let last = text.lines().last().expect("a log record");
    let record: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(record["level"], "error", "{last}");
    let msg = record["msg"].as_str().unwrap();
    // runc's message does not name the container; ours does.
    assert!(
        msg.contains("does not exist")
            && (!env.runtime().is_berth() || msg.contains("no-such-container")),
        "{last}"
    );
    assert!(record["time"].is_string(), "{last}");
}
