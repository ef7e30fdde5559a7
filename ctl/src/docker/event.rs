//! `docker events` lines and JSON objects.

use crate::output::humanize::rfc3339_nano_fixed;
use berth_proto::node::v1::Event;
use serde_json::{json, Value};

/// Docker's event line:
/// `2024-01-01T00:00:00.000000000Z container start <id> (image=…, name=…)`.
pub fn line(event: &Event) -> String {
    let time = rfc3339_nano_fixed(event.time.as_ref());
    let mut attributes: Vec<_> = event.attributes.iter().collect();
    attributes.sort();
    let attributes: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut text = format!(
        "{time} {} {} {}",
        event.r#type, event.action, event.actor_id
    );
    if !attributes.is_empty() {
        text.push_str(&format!(" ({})", attributes.join(", ")));
    }
    text
}

/// Docker's JSON object of an event (the fields `--format` templates see).
pub fn object(event: &Event) -> Value {
    let time = event.time.unwrap_or_default();
    let nanos = i128::from(time.seconds) * 1_000_000_000 + i128::from(time.nanos);
    let image = event.attributes.get("image").cloned().unwrap_or_default();
    json!({
        "status": event.action,
        "id": event.actor_id,
        "from": image,
        "Type": event.r#type,
        "Action": event.action,
        "Actor": {"ID": event.actor_id, "Attributes": event.attributes},
        "scope": "local",
        "time": time.seconds,
        "timeNano": nanos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::Timestamp;

    fn sample() -> Event {
        Event {
            r#type: "container".into(),
            action: "start".into(),
            actor_id: "bd18".into(),
            attributes: [
                ("name".to_string(), "refctr".to_string()),
                ("image".to_string(), "bb:1".to_string()),
            ]
            .into(),
            time: Some(Timestamp {
                seconds: 1_704_067_200,
                nanos: 5,
            }),
        }
    }

    #[test]
    fn docker_line() {
        assert_eq!(
            line(&sample()),
            "2024-01-01T00:00:00.000000005Z container start bd18 (image=bb:1, name=refctr)"
        );
        let bare = Event {
            attributes: Default::default(),
            ..sample()
        };
        assert_eq!(
            line(&bare),
            "2024-01-01T00:00:00.000000005Z container start bd18"
        );
    }

    #[test]
    fn docker_object() {
        let value = object(&sample());
        assert_eq!(value["Action"], "start");
        assert_eq!(value["from"], "bb:1");
        assert_eq!(value["Actor"]["Attributes"]["name"], "refctr");
        assert_eq!(value["timeNano"], 1_704_067_200_000_000_005i64);
    }
}
