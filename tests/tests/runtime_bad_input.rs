//! Bad input: each case is one clear error line, a non-zero exit, and nothing left behind (no
//! state, no cgroup, no mount, no process), and it never disturbs an existing container.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use berth_tests::ids::{cgroups_path_for, run_prefix, unique_id};
use berth_tests::mounts::mounts_under;
use berth_tests::{Bundle, TestEnv};
use oci_spec::runtime::MountBuilder;
use serde_json::json;

/// Asserts the clean failure and that `bundle`'s container left nothing.
fn assert_rejected(env: &TestEnv, bundle: &Bundle, out: &berth_tests::CmdOutput) {
    out.assert_clean_failure();
    env.assert_nothing_left(bundle);
    env.call(&["state", bundle.id()])
        .unwrap()
        .assert_clean_failure();
}

#[test]
fn missing_bundle_or_config_is_rejected() {
    let env = TestEnv::new().unwrap();
    let bundle = env.bundle("nobundle").unwrap();
    let missing = env.scratch().join("no-such-bundle");
    let out = env
        .call(&[
            "create",
            "--bundle",
            &missing.to_string_lossy(),
            bundle.id(),
        ])
        .unwrap();
    assert_rejected(&env, &bundle, &out);

    // A bundle directory without config.json.
    let out = env
        .call(&[
            "create",
            "--bundle",
            &bundle.dir().to_string_lossy(),
            bundle.id(),
        ])
        .unwrap();
    assert_rejected(&env, &bundle, &out);
}

#[test]
fn malformed_json_is_rejected() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("badjson").unwrap();
    bundle.raw_config(r#"{ "ociVersion": "1.0.2", "process": { "args": ["sh" "#);
    let out = env.create(&bundle).unwrap();
    assert_rejected(&env, &bundle, &out);
}

#[test]
fn unknown_namespace_type_is_rejected() {
    let env = TestEnv::new().unwrap();
    let mut bundle = env.bundle("badns").unwrap();
    bundle
        .edit_json(|config| {
            config["linux"]["namespaces"]
                .as_array_mut()
                .expect("the default spec lists namespaces")
                .push(json!({ "type": "berth-bogus" }));
        })
        .unwrap();
    let out = env.create(&bundle).unwrap();
    assert_rejected(&env, &bundle, &out);
}

#[test]
fn mount_destination_symlink_escaping_the_rootfs_is_rejected() {
    let env = TestEnv::new().unwrap();
    // A host directory the container must never reach.
    let host_target = env.scratch().join("host-target");
    fs::create_dir(&host_target).unwrap();
    fs::write(host_target.join("marker"), "host").unwrap();

    for (label, link) in [
        ("escabs", host_target.display().to_string()),
        (
            "escrel",
            format!("../../../../../../../../..{}", host_target.display()),
        ),
    ] {
        let mut bundle = env.bundle(label).unwrap();
        symlink(&link, bundle.rootfs().join("escape")).unwrap();
        bundle
            .mount(
                MountBuilder::default()
                    .destination("/escape")
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(vec!["size=1m".to_owned()])
                    .build()
                    .unwrap(),
            )
            .shell(&format!(
                "echo written > /escape/from-container; grep -c ' {} ' /proc/self/mountinfo",
                host_target.display()
            ));
        let out = env.run(&bundle).unwrap();

        // A relative link climbing out of the rootfs is refused. An absolute link is
        // resolved in-root (SECURITY.md item 2), as images rely on links like
        // /var/run -> /run: the mount lands inside the container, never on the host.
        // runc resolves both in-root.
        let refuses = env.runtime().is_berth() && label == "escrel";
        if refuses || !out.status.success() {
            assert_rejected(&env, &bundle, &out);
        } else {
            assert_eq!(out.stdout, "1\n", "{label}: the mount is not confined");
            env.assert_nothing_left(&bundle);
        }
        let entries: Vec<_> = fs::read_dir(&host_target)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(entries, ["marker"], "{label}: the host directory changed");
        assert!(mounts_under(&host_target).unwrap().is_empty());
    }
}

#[test]
fn duplicate_id_is_rejected_and_the_original_kept() {
    let env = TestEnv::new().unwrap();
    let mut original = env.bundle("dup").unwrap();
    original.args(&["sleep", "1000"]);
    env.create(&original).unwrap().assert_success();
    let before = env.state(original.id()).unwrap();

    // A second bundle with the same id but its own cgroup.
    let other_cgroup = cgroups_path_for(&unique_id("dup2"));
    env.track(original.id(), &other_cgroup);
    let mut second = Bundle::create(
        &env.scratch().join("second-bundle"),
        original.id(),
        &other_cgroup,
    )
    .unwrap();
    second.args(&["true"]);
    env.create(&second).unwrap().assert_clean_failure();

    let after = env.state(original.id()).unwrap();
    assert_eq!(
        (after.status.as_str(), after.pid, &after.bundle),
        ("created", before.pid, &before.bundle)
    );
    assert!(
        env.leftovers_of(second.id(), &other_cgroup, second.dir())
            .unwrap()
            .iter()
            .all(|l| l.starts_with("state entry")),
        "the second create left something"
    );

    // The original still works.
    env.call(&["start", original.id()])
        .unwrap()
        .assert_success();
    env.call(&["delete", "--force", original.id()])
        .unwrap()
        .assert_success();
    env.assert_nothing_left(&original);
}

#[test]
fn ids_with_slash_or_dot_dot_are_rejected() {
    let env = TestEnv::new().unwrap();
    let bundle = env.bundle("badid").unwrap();
    bundle.write().unwrap();
    let dir = bundle.dir().to_string_lossy().into_owned();
    let listing = |d: &Path| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(d)
            .map(|it| {
                it.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    let scratch_before = listing(env.scratch());
    // An absolute id, which a careless `root.join(id)` would turn into a host path.
    let absolute = format!("/{}-abs", run_prefix());

    for id in ["a/b", "..", ".", "../escape", "x/../y", &absolute] {
        let out = env.call(&["create", "--bundle", &dir, id]).unwrap();
        out.assert_clean_failure();
        // Nothing named after any part of the id, under --root or next to it.
        let state = listing(&env.state_root());
        for part in Path::new(id).iter().filter_map(|p| p.to_str()) {
            if !matches!(part, "/" | "." | "..") {
                assert!(!state.iter().any(|e| e == part), "id {id:?} left {part}");
            }
        }
        assert_eq!(listing(env.scratch()), scratch_before, "id {id:?}");
        assert!(!Path::new(&absolute).exists(), "id {id:?} wrote {absolute}");
        env.assert_nothing_left(&bundle);
    }
}
