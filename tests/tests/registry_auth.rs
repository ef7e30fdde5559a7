//! Credentials against docker-registry with htpasswd basic auth: anonymous pulls refused,
//! `berthctl login/logout` and `~/.berth/config.json`, wrong passwords, and Docker's
//! `~/.docker/config.json` as a fallback.

// Tests may unwrap (project rule); clippy only knows that inside #[test] functions, not in
// the helpers of an integration test crate.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;

use berth_proto::node::v1::{
    image_service_client::ImageServiceClient, LoginRegistryRequest, PullImageRequest,
    PushImageRequest,
};
use berth_proto::transport::connect_unix;
use berth_tests::oci_layout::samples::{self, BUSYBOX_MARKER};
use berth_tests::oci_layout::Compression;
use berth_tests::registry::Login;
use berth_tests::registry_client::{auth_of, pull, pull_ref, push, CtlUser};
use berth_tests::{Daemon, Registry};
use serde_json::Value;

fn login() -> Login {
    Login::new("berth-user", "correct horse battery")
}

/// An auth registry with busybox as `busybox:latest`.
fn auth_registry() -> Registry {
    let registry = Registry::start_with_auth(login()).unwrap();
    let image = samples::busybox(&registry.scratch(), Compression::Gzip).unwrap();
    registry.seed_image(&image, "busybox:latest").unwrap();
    registry
}

fn berth_config(user: &CtlUser) -> Value {
    serde_json::from_str(&std::fs::read_to_string(user.berth_config()).unwrap()).unwrap()
}

#[test]
fn anonymous_pull_is_unauthenticated() {
    let registry = auth_registry();
    let d = Daemon::start().unwrap();
    let user = CtlUser::new(&d);
    let reference = registry.reference("busybox:latest");
    let out = user.ctl(&["pull", &reference]);
    out.assert_code(125);
    let line = out.assert_clean_failure();
    assert!(line.starts_with("Error"), "{line}");
    let status = pull_ref(&d, &reference).unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert_eq!(d.ok(&["images", "-q"]), "");

    // Pushing without credentials is refused the same way.
    let target = registry.reference("anonymous:v1");
    d.import_busybox(&target);
    let out = user.ctl(&["push", &target]);
    out.assert_code(125);
    out.assert_clean_failure();
    let status = push(
        &d,
        PushImageRequest {
            reference: target,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
}

#[test]
fn login_then_pull_and_push_then_logout() {
    let registry = auth_registry();
    let d = Daemon::start().unwrap();
    let user = CtlUser::new(&d);
    let host = registry.host();

    let out = user.login(&host, &login());
    out.assert_success();
    assert!(out.stdout.contains("Login Succeeded"), "{out:?}");
    let mode = std::fs::metadata(user.berth_config())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "credentials are private");
    assert!(
        berth_config(&user)["auths"].get(&host).is_some(),
        "{}",
        berth_config(&user)
    );

    let reference = registry.reference("busybox:latest");
    user.ok(&["pull", &reference]);
    assert_eq!(user.ok(&["run", "--rm", &reference]), BUSYBOX_MARKER);

    let pushed = registry.reference("pushed:v1");
    user.ok(&["tag", &reference, &pushed]);
    let out = user.ok(&["push", &pushed]);
    assert!(out.contains("digest: sha256:"), "{out}");
    let manifest = registry.skopeo_inspect("pushed:v1", &["--raw"]).unwrap();
    let id = d.ok(&["image", "inspect", "-f", "{{.Id}}", &pushed]);
    assert!(manifest.contains(&id), "{manifest}");

    let out = user.ok(&["logout", &host]);
    assert!(out.contains("Removing login credentials"), "{out}");
    assert!(
        berth_config(&user)["auths"].get(&host).is_none(),
        "{}",
        berth_config(&user)
    );
    user.ok(&["rmi", &reference, &pushed]);
    user.ctl(&["pull", &reference]).assert_code(125);
}

#[test]
fn wrong_password_is_unauthenticated_and_stores_nothing() {
    let registry = auth_registry();
    let d = Daemon::start().unwrap();
    let user = CtlUser::new(&d);
    let wrong = Login::new(&login().username, "wrong password");

    let out = user.login(&registry.host(), &wrong);
    out.assert_code(125);
    let line = out.assert_clean_failure();
    // docker-registry's htpasswd auth answers 401 with `authentication required`.
    assert!(
        line.to_lowercase().contains("unauthorized") || line.contains("authentication required"),
        "{line}"
    );
    assert!(
        !user.berth_config().exists()
            || berth_config(&user)["auths"].get(registry.host()).is_none()
    );

    let status = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let channel = connect_unix(d.socket()).await.unwrap();
            ImageServiceClient::new(channel)
                .login_registry(LoginRegistryRequest {
                    registry: registry.host(),
                    auth: Some(auth_of(&wrong)),
                })
                .await
        })
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");

    let status = pull(
        &d,
        PullImageRequest {
            reference: registry.reference("busybox:latest"),
            auth: Some(auth_of(&wrong)),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    assert_eq!(d.ok(&["images", "-q"]), "");

    // The right credentials over gRPC work, and berthd wrote none of them to disk.
    pull(
        &d,
        PullImageRequest {
            reference: registry.reference("busybox:latest"),
            auth: Some(auth_of(&login())),
            ..Default::default()
        },
    )
    .unwrap();
    let leaked = std::process::Command::new("grep")
        .args(["-rlF", &login().password])
        .arg(d.root())
        .output()
        .unwrap();
    assert!(leaked.stdout.is_empty(), "{leaked:?}");
    assert!(
        !d.log().contains(&login().password),
        "berthd logged the password"
    );
}

#[test]
fn docker_config_credentials_are_the_fallback() {
    let registry = auth_registry();
    let d = Daemon::start().unwrap();
    let user = CtlUser::new(&d);
    user.write_docker_config(&registry.host(), &login());
    let reference = registry.reference("busybox:latest");
    let out = user.ctl(&["pull", &reference]);
    out.assert_success();
    assert_eq!(user.ok(&["run", "--rm", &reference]), BUSYBOX_MARKER);
}

#[test]
fn docker_credential_helpers_are_the_fallback() {
    let registry = auth_registry();
    let d = Daemon::start().unwrap();
    let user = CtlUser::new(&d);
    user.install_credential_helper("berthtest", &registry.host(), &login());
    let reference = registry.reference("busybox:latest");
    user.ok(&["pull", &reference]);
    assert_eq!(user.ok(&["run", "--rm", &reference]), BUSYBOX_MARKER);
}
