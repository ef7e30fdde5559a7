//! The store against a real redb file.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_proto::node::v1::{Container, Event};
use berth_store::{Store, StoreError};

fn container(id: &str, name: &str) -> Container {
    Container {
        id: id.to_owned(),
        name: name.to_owned(),
        ..Container::default()
    }
}

fn event(action: &str, secs: i64) -> Event {
    Event {
        r#type: "container".to_owned(),
        action: action.to_owned(),
        time: Some(prost_types::Timestamp {
            seconds: secs,
            nanos: 0,
        }),
        ..Event::default()
    }
}

fn open(dir: &tempfile::TempDir, history: u64) -> Store {
    Store::open(&dir.path().join("meta.redb"), history).unwrap()
}

#[test]
fn a_name_has_one_owner_checked_in_the_inserting_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, 100);
    let mut batch = store.write().unwrap();
    batch.insert_container(&container("a1", "web")).unwrap();
    batch.commit().unwrap();

    let mut batch = store.write().unwrap();
    let err = batch.insert_container(&container("b2", "web")).unwrap_err();
    assert!(
        matches!(err, StoreError::NameInUse { ref name, ref id } if name == "web" && id == "a1")
    );
    drop(batch);
    assert!(store.container("b2").unwrap().is_none());
    assert_eq!(store.containers().unwrap().len(), 1);

    let mut batch = store.write().unwrap();
    let err = batch
        .insert_container(&container("a1", "other"))
        .unwrap_err();
    assert!(matches!(err, StoreError::IdInUse(_)));
}

#[test]
fn a_dropped_batch_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, 100);
    let mut batch = store.write().unwrap();
    batch.insert_container(&container("a1", "web")).unwrap();
    batch.append_event(&event("create", 10)).unwrap();
    drop(batch);
    assert!(store.container("a1").unwrap().is_none());
    assert!(store.name_owner("web").unwrap().is_none());
    assert_eq!(store.event_count().unwrap(), 0);
}

#[test]
fn rename_moves_the_name_and_refuses_a_taken_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, 100);
    let mut batch = store.write().unwrap();
    batch.insert_container(&container("a1", "web")).unwrap();
    batch.insert_container(&container("b2", "db")).unwrap();
    batch.commit().unwrap();

    let mut batch = store.write().unwrap();
    let err = batch.update_container(&container("a1", "db")).unwrap_err();
    assert!(matches!(err, StoreError::NameInUse { ref id, .. } if id == "b2"));
    drop(batch);

    let mut batch = store.write().unwrap();
    batch.update_container(&container("a1", "front")).unwrap();
    batch.commit().unwrap();
    assert_eq!(store.name_owner("front").unwrap().as_deref(), Some("a1"));
    assert!(store.name_owner("web").unwrap().is_none());
    assert_eq!(store.container("a1").unwrap().unwrap().name, "front");
}

#[test]
fn remove_releases_the_name_and_unknown_ids_are_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, 100);
    let mut batch = store.write().unwrap();
    batch.insert_container(&container("a1", "web")).unwrap();
    batch.commit().unwrap();

    let mut batch = store.write().unwrap();
    batch.remove_container("a1").unwrap();
    assert!(matches!(
        batch.remove_container("zz").unwrap_err(),
        StoreError::NotFound(_)
    ));
    assert!(matches!(
        batch.update_container(&container("zz", "x")).unwrap_err(),
        StoreError::NotFound(_)
    ));
    batch.commit().unwrap();
    assert!(store.name_owner("web").unwrap().is_none());
    assert!(store.containers().unwrap().is_empty());
}

#[test]
fn events_are_bounded_ordered_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(&dir, 3);
        for (i, action) in ["create", "start", "die", "destroy"].iter().enumerate() {
            let mut batch = store.write().unwrap();
            batch.append_event(&event(action, 100 + i as i64)).unwrap();
            let appended = batch.commit().unwrap();
            assert_eq!(appended.len(), 1);
        }
        assert_eq!(store.event_count().unwrap(), 3);
    }
    let store = open(&dir, 3);
    let all: Vec<String> = store
        .events_since(None)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.action)
        .collect();
    assert_eq!(all, ["start", "die", "destroy"]);

    let since = UNIX_EPOCH + Duration::from_secs(102);
    let recent: Vec<String> = store
        .events_since(Some(since))
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.action)
        .collect();
    assert_eq!(recent, ["die", "destroy"]);

    // Keys keep increasing after a reopen even for an older timestamp.
    let before = store.events_since(None).unwrap().last().unwrap().0;
    let mut batch = store.write().unwrap();
    let key = batch.append_event(&event("late", 1)).unwrap();
    batch.commit().unwrap();
    assert!(key > before);
}

#[test]
fn records_round_trip_through_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir, 10);
    let mut c = container("a1", "web");
    c.restart_count = 3;
    c.created = Some(SystemTime::now().into());
    let mut batch = store.write().unwrap();
    batch.insert_container(&c).unwrap();
    batch.commit().unwrap();
    assert_eq!(store.container("a1").unwrap().unwrap(), c);
}
