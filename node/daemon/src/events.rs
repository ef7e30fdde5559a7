//! Events: stored in the metadata store with the change that caused them, then published to
//! live subscribers.

use std::{collections::HashMap, sync::Arc};

use berth_proto::node::v1::{Event, Filter};
use berth_store::{EventKey, Store, WriteBatch};
use tokio::sync::broadcast;

use crate::{
    error::{DomainError, DomainResult},
    time,
};

/// How many live events a slow subscriber may fall behind before it skips some.
const LIVE_CAPACITY: usize = 1024;

/// The event bus.
#[derive(Clone)]
pub struct EventBus {
    store: Arc<Store>,
    live: broadcast::Sender<(EventKey, Event)>,
}

impl EventBus {
    /// A bus over the store.
    pub fn new(store: Arc<Store>) -> Self {
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        Self { store, live }
    }

    /// Commits a batch (blocking: call from a blocking context) and publishes its events.
    pub fn commit(&self, batch: WriteBatch<'_>) -> DomainResult<()> {
        for event in batch.commit()? {
            // No subscriber is fine.
            let _ = self.live.send(event);
        }
        Ok(())
    }

    /// Stores and publishes one event on its own.
    pub async fn emit(&self, event: Event) -> DomainResult<()> {
        let bus = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut batch = bus.store.write()?;
            batch.append_event(&event)?;
            bus.commit(batch)
        })
        .await
        .map_err(|e| DomainError::internal("storing an event", e))?
    }

    /// A receiver of live events.
    pub fn subscribe(&self) -> broadcast::Receiver<(EventKey, Event)> {
        self.live.subscribe()
    }

    /// The stored events since `since`.
    pub async fn history(
        &self,
        since: std::time::SystemTime,
    ) -> DomainResult<Vec<(EventKey, Event)>> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || store.events_since(Some(since)))
            .await
            .map_err(|e| DomainError::internal("reading events", e))?
            .map_err(DomainError::from)
    }
}

/// A new event happening now.
pub fn event(kind: &str, action: &str, actor: &str, attributes: HashMap<String, String>) -> Event {
    Event {
        r#type: kind.to_owned(),
        action: action.to_owned(),
        actor_id: actor.to_owned(),
        attributes,
        time: Some(time::now()),
    }
}

/// The filters of SubscribeEvents: ANDed across keys, ORed within a key.
#[derive(Debug, Default)]
pub struct EventFilter {
    types: Vec<String>,
    actions: Vec<String>,
    containers: Vec<String>,
    images: Vec<String>,
    labels: Vec<String>,
}

impl EventFilter {
    /// Parses request filters; unknown keys are refused.
    pub fn parse(filters: &[Filter]) -> DomainResult<Self> {
        let mut f = Self::default();
        for Filter { key, value } in filters {
            let list = match key.as_str() {
                "type" => &mut f.types,
                "event" => &mut f.actions,
                "container" => &mut f.containers,
                "image" => &mut f.images,
                "label" => &mut f.labels,
                other => {
                    return Err(DomainError::InvalidArgument(format!(
                        "invalid filter '{other}'"
                    )))
                }
            };
            list.push(value.clone());
        }
        Ok(f)
    }

    /// Whether the event passes.
    pub fn matches(&self, e: &Event) -> bool {
        let attr = |k: &str| e.attributes.get(k).map(String::as_str).unwrap_or("");
        let any = |list: &[String], pred: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|v| pred(v))
        };
        any(&self.types, &|t| t == e.r#type)
            && any(&self.actions, &|a| a == e.action)
            && any(&self.containers, &|c| {
                e.r#type == "container"
                    && (e.actor_id.starts_with(c) || attr("name") == c.trim_start_matches('/'))
            })
            && any(&self.images, &|i| {
                attr("image") == i
                    || (e.r#type == "image" && (e.actor_id == i || attr("name") == i))
            })
            && any(&self.labels, &|l| match l.split_once('=') {
                Some((k, v)) => e.attributes.get(k).is_some_and(|x| x == v),
                None => e.attributes.contains_key(l),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(pairs: &[(&str, &str)]) -> EventFilter {
        let filters: Vec<Filter> = pairs
            .iter()
            .map(|(k, v)| Filter {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect();
        EventFilter::parse(&filters).unwrap()
    }

    fn start_of_web() -> Event {
        let attrs = HashMap::from([
            ("name".to_owned(), "web".to_owned()),
            ("image".to_owned(), "busybox".to_owned()),
            ("env".to_owned(), "prod".to_owned()),
        ]);
        event("container", "start", "abcdef0123", attrs)
    }

    #[test]
    fn filters_and_across_keys_and_or_within() {
        let e = start_of_web();
        assert!(filter(&[]).matches(&e));
        assert!(filter(&[("event", "die"), ("event", "start")]).matches(&e));
        assert!(!filter(&[("event", "start"), ("type", "image")]).matches(&e));
        assert!(filter(&[("container", "web")]).matches(&e));
        assert!(filter(&[("container", "abcdef")]).matches(&e));
        assert!(!filter(&[("container", "db")]).matches(&e));
        assert!(filter(&[("image", "busybox")]).matches(&e));
        assert!(filter(&[("label", "env=prod")]).matches(&e));
        assert!(filter(&[("label", "env")]).matches(&e));
        assert!(!filter(&[("label", "env=dev")]).matches(&e));
    }

    #[test]
    fn unknown_filter_keys_are_invalid() {
        let err = EventFilter::parse(&[Filter {
            key: "colour".into(),
            value: "x".into(),
        }])
        .unwrap_err();
        assert!(matches!(err, DomainError::InvalidArgument(_)));
    }
}
