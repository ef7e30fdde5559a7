//! The filters of ListContainers and PruneContainers.

use berth_proto::node::v1::{Container, Filter};

use super::status;
use crate::{
    error::{DomainError, DomainResult},
    time,
};

/// Parsed list filters: ANDed across keys, ORed within a key.
#[derive(Debug, Default)]
pub struct ContainerFilter {
    ids: Vec<String>,
    names: Vec<String>,
    labels: Vec<String>,
    statuses: Vec<String>,
    exited: Vec<i32>,
    /// Image IDs the `ancestor` filter resolved to, or the references as given.
    ancestors: Vec<String>,
    before: Option<i128>,
    since: Option<i128>,
    until: Option<i128>,
}

/// What the filter needs to look up.
pub trait FilterLookup {
    /// The creation time (ns) of the container `query` names.
    fn created(&self, query: &str) -> DomainResult<i128>;
    /// The image ID `reference` resolves to, if it resolves.
    fn image_id(&self, reference: &str) -> Option<String>;
}

const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

impl ContainerFilter {
    /// Parses filters; `allowed` lists the keys this request accepts.
    pub fn parse(
        filters: &[Filter],
        allowed: &[&str],
        lookup: &dyn FilterLookup,
    ) -> DomainResult<Self> {
        let mut f = Self::default();
        for Filter { key, value } in filters {
            if !allowed.contains(&key.as_str()) {
                return Err(DomainError::InvalidArgument(format!(
                    "invalid filter '{key}'"
                )));
            }
            match key.as_str() {
                "id" => f.ids.push(value.clone()),
                "name" => f.names.push(value.trim_start_matches('/').to_owned()),
                "label" => f.labels.push(value.clone()),
                "status" => {
                    if !STATUSES.contains(&value.as_str()) {
                        return Err(DomainError::InvalidArgument(format!(
                            "invalid filter 'status={value}'"
                        )));
                    }
                    f.statuses.push(value.clone());
                }
                "exited" => f.exited.push(value.parse().map_err(|_| {
                    DomainError::InvalidArgument(format!("invalid filter 'exited={value}'"))
                })?),
                "ancestor" => f
                    .ancestors
                    .push(lookup.image_id(value).unwrap_or_else(|| value.clone())),
                "before" => f.before = Some(lookup.created(value)?),
                "since" => f.since = Some(lookup.created(value)?),
                "until" => f.until = Some(parse_until(value)?),
                _ => {
                    return Err(DomainError::InvalidArgument(format!(
                        "invalid filter '{key}'"
                    )))
                }
            }
        }
        Ok(f)
    }

    /// Whether a status filter was given (it lifts `all`'s running-only default).
    pub fn has_status(&self) -> bool {
        !self.statuses.is_empty() || !self.exited.is_empty()
    }

    /// Whether the container passes.
    pub fn matches(&self, c: &Container) -> bool {
        let state = c.state.clone().unwrap_or_default();
        let status = status::of(c).docker_name();
        let config = c.config.clone().unwrap_or_default();
        let created = time::nanos(c.created.as_ref());
        let any = |list: &[String], pred: &dyn Fn(&str) -> bool| {
            list.is_empty() || list.iter().any(|v| pred(v))
        };
        any(&self.ids, &|id| c.id.starts_with(id))
            && any(&self.names, &|n| c.name.contains(n))
            && self.labels.iter().all(|l| match l.split_once('=') {
                Some((k, v)) => config.labels.get(k).is_some_and(|x| x == v),
                None => config.labels.contains_key(l),
            })
            && any(&self.statuses, &|s| s == status)
            && (self.exited.is_empty()
                || (status == "exited" && self.exited.contains(&state.exit_code)))
            && any(&self.ancestors, &|a| a == c.image_id || a == config.image)
            && self.before.is_none_or(|b| created < b)
            && self.since.is_none_or(|s| created > s)
            && self.until.is_none_or(|u| created < u)
    }
}

/// `until` as a Unix timestamp (`1700000000`), an RFC 3339 time, or a duration before now
/// (`10m`, `24h`).
pub(crate) fn parse_until(value: &str) -> DomainResult<i128> {
    let invalid = || DomainError::InvalidArgument(format!("invalid filter 'until={value}'"));
    if let Ok(secs) = value.parse::<i64>() {
        return Ok(i128::from(secs) * 1_000_000_000);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(
            i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
        );
    }
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(invalid)?;
    let (n, unit) = value.split_at(split);
    let n: i128 = n.parse().map_err(|_| invalid())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(invalid()),
    };
    let now = time::nanos(Some(&time::now()));
    Ok(now - n * unit_secs * 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_proto::node::v1::{ContainerConfig, ContainerState, ContainerStatus};

    struct Fixed;
    impl FilterLookup for Fixed {
        fn created(&self, query: &str) -> DomainResult<i128> {
            match query {
                "mid" => Ok(20),
                _ => Err(DomainError::NotFound(format!("No such container: {query}"))),
            }
        }
        fn image_id(&self, reference: &str) -> Option<String> {
            (reference == "busybox").then(|| "sha256:bb".to_owned())
        }
    }

    fn c(id: &str, name: &str, status: ContainerStatus, code: i32, created: i64) -> Container {
        Container {
            id: id.into(),
            name: name.into(),
            image_id: "sha256:bb".into(),
            created: Some(prost_types::Timestamp {
                seconds: 0,
                nanos: created as i32,
            }),
            config: Some(ContainerConfig {
                image: "busybox".into(),
                labels: [("env".to_owned(), "prod".to_owned())].into(),
                ..ContainerConfig::default()
            }),
            state: Some(ContainerState {
                status: status.into(),
                exit_code: code,
                ..ContainerState::default()
            }),
            ..Container::default()
        }
    }

    const ALL: &[&str] = &[
        "id", "name", "label", "status", "exited", "ancestor", "before", "since",
    ];

    fn parse(pairs: &[(&str, &str)]) -> DomainResult<ContainerFilter> {
        let filters: Vec<Filter> = pairs
            .iter()
            .map(|(k, v)| Filter {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect();
        ContainerFilter::parse(&filters, ALL, &Fixed)
    }

    #[test]
    fn each_key_filters() {
        let web = c("abc", "web", ContainerStatus::Running, 0, 10);
        let old = c("def", "old-db", ContainerStatus::Exited, 3, 30);
        let m = |pairs: &[(&str, &str)], x: &Container| parse(pairs).unwrap().matches(x);
        assert!(m(&[("id", "ab")], &web) && !m(&[("id", "ab")], &old));
        assert!(m(&[("name", "db")], &old) && !m(&[("name", "db")], &web));
        assert!(m(&[("label", "env=prod")], &web) && !m(&[("label", "env=dev")], &web));
        assert!(m(&[("label", "env")], &web));
        assert!(m(&[("status", "exited")], &old) && !m(&[("status", "exited")], &web));
        assert!(m(&[("status", "running"), ("status", "exited")], &web));
        assert!(m(&[("exited", "3")], &old) && !m(&[("exited", "0")], &web));
        assert!(m(&[("ancestor", "busybox")], &web) && !m(&[("ancestor", "alpine")], &web));
        assert!(m(&[("before", "mid")], &web) && !m(&[("before", "mid")], &old));
        assert!(m(&[("since", "mid")], &old) && !m(&[("since", "mid")], &web));
        assert!(!m(&[("name", "web"), ("status", "exited")], &web));
    }

    #[test]
    fn bad_filters_are_invalid_or_not_found() {
        assert!(matches!(
            parse(&[("colour", "x")]),
            Err(DomainError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse(&[("status", "sleepy")]),
            Err(DomainError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse(&[("exited", "x")]),
            Err(DomainError::InvalidArgument(_))
        ));
        assert!(matches!(
            parse(&[("before", "nope")]),
            Err(DomainError::NotFound(_))
        ));
    }

    #[test]
    fn until_takes_timestamps_and_durations() {
        assert_eq!(parse_until("100").unwrap(), 100_000_000_000);
        assert!(parse_until("2024-01-01T00:00:00Z").is_ok());
        let now = time::nanos(Some(&time::now()));
        let ten_min_ago = parse_until("10m").unwrap();
        assert!((now - ten_min_ago - 600_000_000_000).abs() < 5_000_000_000);
        assert!(parse_until("soon").is_err());
    }
}
