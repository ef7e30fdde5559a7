//! PullImage through a real berthd, from a real `docker-registry` seeded by `skopeo`.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../image/tests/registry/mod.rs"]
mod registry;

use berth_proto::node::v1::{
    pull_image_response, GetImageRequest, LayerState, PullImageRequest, PullImageResult,
    SubscribeEventsRequest,
};
use common::TestDaemon;
use registry::{Compress, Layer, Layout, TestRegistry};
use tokio_stream::StreamExt;
use tonic::Code;

async fn pull(
    daemon: &TestDaemon,
    reference: &str,
    platform: &str,
) -> Result<(Vec<berth_proto::node::v1::LayerProgress>, PullImageResult), tonic::Status> {
    let mut images = daemon.images().await;
    let mut stream = images
        .pull_image(PullImageRequest {
            reference: reference.into(),
            auth: None,
            platform: platform.into(),
        })
        .await?
        .into_inner();
    let mut progress = Vec::new();
    while let Some(message) = stream.next().await {
        match message?.response.unwrap() {
            pull_image_response::Response::Progress(p) => progress.push(p),
            pull_image_response::Response::Result(result) => {
                assert!(
                    stream.next().await.is_none(),
                    "the result is the last message"
                );
                return Ok((progress, result));
            }
        }
    }
    panic!("the stream ended without a result");
}

#[tokio::test]
async fn pull_streams_progress_then_the_image() {
    let registry = TestRegistry::start();
    let mut layout = Layout::new();
    let built = layout.image(
        "amd64",
        &[
            Layer::busybox(),
            Layer::files(&[("etc/motd", b"pulled\n", 0o644)], Compress::Zstd),
        ],
        &["/bin/busybox", "cat", "/etc/motd"],
    );
    layout.tag(&built.descriptor, "v1");
    registry.seed(&layout, "v1", "app");
    let daemon = TestDaemon::start();
    let since = prost_types::Timestamp::from(std::time::SystemTime::now());
    let reference = format!("{}/app:v1", registry.host);

    let (progress, result) = pull(&daemon, &reference, "")
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", daemon.log()));
    let image = result.image.unwrap();
    assert_eq!(image.id, built.config_digest);
    assert_eq!(image.repo_tags, std::slice::from_ref(&reference));
    assert!(!result.up_to_date);
    for digest in &built.layer_digests {
        let last = progress.iter().rev().find(|p| p.digest == *digest).unwrap();
        assert_eq!(last.state, LayerState::Complete as i32, "{progress:?}");
        assert_eq!(last.current, last.total);
    }

    let (progress, result) = pull(&daemon, &reference, "").await.unwrap();
    assert!(result.up_to_date);
    assert!(progress
        .iter()
        .all(|p| p.state == LayerState::AlreadyExists as i32));

    let mut stream = daemon
        .system()
        .await
        .subscribe_events(SubscribeEventsRequest {
            since: Some(since),
            until: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
            ..SubscribeEventsRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut pulls = 0;
    while let Some(event) = stream.next().await {
        let event = event.unwrap().event.unwrap();
        if event.action == "pull" {
            assert_eq!(event.actor_id, reference);
            pulls += 1;
        }
    }
    assert_eq!(pulls, 2);

    let err = pull(&daemon, "Bad:Ref", "").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let err = pull(&daemon, &reference, "linux").await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("invalid platform"), "{err:?}");
    let err = pull(&daemon, &format!("{}/app:missing", registry.host), "")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
}

#[tokio::test]
async fn a_pull_whose_client_goes_away_completes() {
    let registry = TestRegistry::start();
    let mut layout = Layout::new();
    let built = layout.image(
        "amd64",
        &[Layer::noise("data/big", 32 << 20, 7, Compress::Gzip)],
        &["/bin/true"],
    );
    layout.tag(&built.descriptor, "big");
    registry.seed(&layout, "big", "big");
    let daemon = TestDaemon::start();
    let reference = format!("{}/big:big", registry.host);
    let mut images = daemon.images().await;
    let mut stream = images
        .pull_image(PullImageRequest {
            reference: reference.clone(),
            auth: None,
            platform: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(
        first.response,
        Some(pull_image_response::Response::Progress(_))
    ));
    drop(stream);
    drop(images);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let found = daemon
            .images()
            .await
            .get_image(GetImageRequest {
                reference: reference.clone(),
            })
            .await;
        match found {
            Ok(image) => {
                assert_eq!(image.into_inner().image.unwrap().id, built.config_digest);
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::NotFound, "{status:?}");
                assert!(
                    std::time::Instant::now() < deadline,
                    "the pull never finished"
                );
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}
