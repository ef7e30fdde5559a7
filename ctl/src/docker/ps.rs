//! `docker ps`'s view of a container: the fields of its `--format` templates.

use super::status_name;
use crate::output::humanize::{
    ago, ellipsis, go_quote, go_time_string, human_duration, human_size, short_id, since,
    to_datetime,
};
use berth_proto::node::v1::{Container, ContainerState, ContainerStatus};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// `docker ps`'s default table.
pub const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

/// The column titles of the `ps` fields.
pub fn headers() -> Value {
    json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Status": "STATUS", "State": "STATE", "Ports": "PORTS",
        "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
        "Size": "SIZE", "LocalVolumes": "LOCAL VOLUMES",
    })
}

/// The `ps` fields of a container; `truncate` is false with `--no-trunc`.
pub fn row(container: &Container, now: DateTime<Utc>, truncate: bool) -> Value {
    let config = container.config.clone().unwrap_or_default();
    let state = container.state.clone().unwrap_or_default();
    let host = container.host_config.clone().unwrap_or_default();
    let command = std::iter::once(container.path.as_str())
        .chain(container.args.iter().map(String::as_str))
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let command = if truncate {
        ellipsis(&command, 20)
    } else {
        command
    };
    let mut labels: Vec<String> = config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    labels.sort();
    let mounts: Vec<String> = container
        .mounts
        .iter()
        .map(|m| {
            if m.source.is_empty() {
                m.destination.clone()
            } else {
                m.source.clone()
            }
        })
        .map(|name| if truncate { ellipsis(&name, 15) } else { name })
        .collect();
    let created = to_datetime(container.created.as_ref()).unwrap_or(now);
    let image = if truncate && config.image.starts_with("sha256:") {
        short_id(&config.image).to_string()
    } else {
        config.image.clone()
    };
    let mut row = json!({
        "ID": if truncate { short_id(&container.id).to_string() } else { container.id.clone() },
        "Image": image,
        "Command": go_quote(&command),
        "CreatedAt": go_time_string(created),
        "RunningFor": ago(created, now),
        "Status": status_text(&state, now),
        "State": status_name(state.status()),
        "Ports": "",
        "Names": container.name,
        "Labels": labels.join(","),
        "Mounts": mounts.join(","),
        "Networks": if host.network_mode.is_empty() { "none" } else { host.network_mode.as_str() },
        "LocalVolumes": "0",
    });
    if let (Some(size), Some(map)) = (container.size_rw, row.as_object_mut()) {
        map.insert("Size".into(), Value::String(human_size(size as f64, 3)));
    }
    row
}

/// Docker's STATUS text: `Up 5 seconds`, `Up 2 minutes (Paused)`, `Exited (137) 3 seconds ago`,
/// `Restarting (1) 2 seconds ago`, `Created`, `Removal In Progress`, `Dead`.
pub fn status_text(state: &ContainerState, now: DateTime<Utc>) -> String {
    let started = to_datetime(state.started_at.as_ref());
    let finished = to_datetime(state.finished_at.as_ref());
    let up = || {
        format!(
            "Up {}",
            human_duration(started.map_or(std::time::Duration::ZERO, |s| since(s, now)))
        )
    };
    match state.status() {
        ContainerStatus::Running => up(),
        ContainerStatus::Paused => format!("{} (Paused)", up()),
        ContainerStatus::Restarting => match finished {
            Some(finished) => format!("Restarting ({}) {}", state.exit_code, ago(finished, now)),
            None => format!("Restarting ({})", state.exit_code),
        },
        ContainerStatus::Removing => "Removal In Progress".to_string(),
        ContainerStatus::Dead => "Dead".to_string(),
        ContainerStatus::Created | ContainerStatus::Unspecified => "Created".to_string(),
        ContainerStatus::Exited => match (started, finished) {
            (None, _) => "Created".to_string(),
            (Some(_), Some(finished)) => {
                format!("Exited ({}) {}", state.exit_code, ago(finished, now))
            }
            (Some(_), None) => format!("Exited ({})", state.exit_code),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::Timestamp;

    fn at(seconds: i64) -> Option<Timestamp> {
        Some(Timestamp { seconds, nanos: 0 })
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_000_000, 0).unwrap()
    }

    fn state(
        status: ContainerStatus,
        started: i64,
        finished: i64,
        exit_code: i32,
    ) -> ContainerState {
        ContainerState {
            status: status as i32,
            exit_code,
            started_at: (started > 0).then_some(Timestamp {
                seconds: started,
                nanos: 0,
            }),
            finished_at: (finished > 0).then_some(Timestamp {
                seconds: finished,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(
            status_text(&state(ContainerStatus::Running, 999_995, 0, 0), now()),
            "Up 5 seconds"
        );
        assert_eq!(
            status_text(&state(ContainerStatus::Paused, 999_880, 0, 0), now()),
            "Up 2 minutes (Paused)"
        );
        assert_eq!(
            status_text(
                &state(ContainerStatus::Exited, 999_000, 999_997, 137),
                now()
            ),
            "Exited (137) 3 seconds ago"
        );
        assert_eq!(
            status_text(&state(ContainerStatus::Created, 0, 0, 0), now()),
            "Created"
        );
        assert_eq!(
            status_text(&state(ContainerStatus::Exited, 0, 0, 0), now()),
            "Created"
        );
        assert_eq!(
            status_text(
                &state(ContainerStatus::Restarting, 999_000, 999_998, 1),
                now()
            ),
            "Restarting (1) 2 seconds ago"
        );
        assert_eq!(
            status_text(&state(ContainerStatus::Dead, 0, 0, 0), now()),
            "Dead"
        );
    }

    #[test]
    fn row_fields() {
        let mut container = crate::docker::container::tests_support::sample();
        container.created = at(1_000_000 - 7200);
        container.args = vec!["-c".into(), "while true; do echo hello; done".into()];
        container.path = "sh".into();
        let row = row(&container, now(), true);
        assert_eq!(row["ID"], "bd1849b4d12f");
        assert_eq!(row["Command"], "\"sh -c while true; d…\"");
        assert_eq!(row["RunningFor"], "2 hours ago");
        assert_eq!(row["Names"], "refctr");
        assert_eq!(row["Image"], "bb:1");
        assert_eq!(row["Labels"], "app=demo");
        assert_eq!(row["Mounts"], "/srv/data");
        assert_eq!(row["State"], "running");
        assert_eq!(row["CreatedAt"], "1970-01-12 11:46:40 +0000 UTC");
        let full = super::row(&container, now(), false);
        assert_eq!(full["Command"], "\"sh -c while true; do echo hello; done\"");
        assert_eq!(full["ID"].as_str().unwrap().len(), 64);
    }
}
