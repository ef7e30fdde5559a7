//! The image service through a real berthd.
#![allow(clippy::unwrap_used)]

mod common;

use berth_proto::node::v1::{
    ContainerConfig, CreateContainerRequest, Filter, GetImageRequest, ListImagesRequest,
    RemoveImageRequest, SubscribeEventsRequest, TagImageRequest,
};
use common::{import, TestDaemon};
use tonic::Code;

#[tokio::test]
async fn import_list_tag_and_remove() {
    let daemon = TestDaemon::start();
    let since = prost_types::Timestamp::from(std::time::SystemTime::now());
    let id = daemon.import_busybox().await;
    let mut images = daemon.images().await;

    let corrupt = import(&mut images, b"this is not a tar archive at all", "broken")
        .await
        .unwrap_err();
    assert_eq!(corrupt.code(), Code::InvalidArgument, "{corrupt:?}");

    images
        .tag_image(TagImageRequest {
            source: "busybox".into(),
            target: "mine:v1".into(),
        })
        .await
        .unwrap();
    let image = images
        .get_image(GetImageRequest {
            reference: "mine:v1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .image
        .unwrap();
    assert_eq!(image.id, id);
    assert_eq!(image.repo_tags.len(), 2);

    let listed = images
        .list_images(ListImagesRequest {
            filters: vec![Filter {
                key: "reference".into(),
                value: "busy*".into(),
            }],
            ..ListImagesRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.images.len(), 1);
    let none = images
        .list_images(ListImagesRequest {
            filters: vec![Filter {
                key: "reference".into(),
                value: "alpine".into(),
            }],
            ..ListImagesRequest::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.images.is_empty());

    let mut containers = daemon.containers().await;
    containers
        .create_container(CreateContainerRequest {
            name: "user".into(),
            config: Some(ContainerConfig {
                image: "busybox".into(),
                cmd: vec!["true".into()],
                ..ContainerConfig::default()
            }),
            host_config: None,
        })
        .await
        .unwrap();
    let in_use = images
        .remove_image(RemoveImageRequest {
            reference: id.clone(),
            force: false,
        })
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition, "{in_use:?}");

    let untag = images
        .remove_image(RemoveImageRequest {
            reference: "mine:v1".into(),
            force: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(untag.items.len(), 1);
    assert!(!untag.items[0].untagged.is_empty());

    let unknown = images
        .get_image(GetImageRequest {
            reference: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    let mut system = daemon.system().await;
    let mut events = system
        .subscribe_events(SubscribeEventsRequest {
            since: Some(since),
            until: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
            filters: vec![Filter {
                key: "type".into(),
                value: "image".into(),
            }],
        })
        .await
        .unwrap()
        .into_inner();
    let mut actions = Vec::new();
    while let Some(e) = events.message().await.unwrap() {
        actions.push(e.event.unwrap().action);
    }
    assert_eq!(actions, ["import", "tag", "untag"]);
}
