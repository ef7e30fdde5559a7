//! Checks of a create or update request that depend on the host or on daemon-side options;
//! the spec builder checks the rest.

use berth_proto::node::v1::{HostConfig, LogConfig, MountType, Resources};
use berth_shim::LogOptions;

use crate::error::{DomainError, DomainResult};

/// The smallest memory limit the kernel handles sensibly (Docker's rule).
const MIN_MEMORY: i64 = 6 * 1024 * 1024;
/// Default log rotation: 10 MB × 3 files.
const DEFAULT_LOG_MAX_SIZE: u64 = 10 * 1000 * 1000;
const DEFAULT_LOG_MAX_FILES: u32 = 3;

/// Checks the host config beyond what the spec builder knows.
pub fn host_config(host: &HostConfig, ncpu: u64) -> DomainResult<()> {
    if let Some(resources) = &host.resources {
        self::resources(resources, ncpu)?;
    }
    match host.network_mode.as_str() {
        "" | "none" | "host" | "default" => {}
        "bridge" => {
            return Err(DomainError::Unimplemented(
                "bridge networking is not available yet: use --network none or host".to_owned(),
            ))
        }
        other => {
            return Err(DomainError::InvalidArgument(format!(
                "network {other} not found"
            )))
        }
    }
    for mount in &host.mounts {
        if mount.r#type == i32::from(MountType::Volume) {
            return Err(DomainError::Unimplemented(
                "named volumes are not available yet".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Checks resource limits.
pub fn resources(r: &Resources, ncpu: u64) -> DomainResult<()> {
    let invalid = |m: String| Err(DomainError::InvalidArgument(m));
    if r.memory < 0 || (r.memory > 0 && r.memory < MIN_MEMORY) {
        return invalid("Minimum memory limit allowed is 6MB".to_owned());
    }
    if r.memory_swap < -1 || (r.memory_swap > 0 && r.memory > 0 && r.memory_swap < r.memory) {
        return invalid(
            "Minimum memoryswap limit should be larger than memory limit, see usage".to_owned(),
        );
    }
    if r.memory_swap > 0 && r.memory == 0 {
        return invalid(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
                .to_owned(),
        );
    }
    let max_nano = i64::try_from(ncpu)
        .unwrap_or(i64::MAX)
        .saturating_mul(1_000_000_000);
    if r.nano_cpus < 0 || r.nano_cpus > max_nano {
        return invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        ));
    }
    if r.nano_cpus > 0 && r.nano_cpus < 10_000_000 {
        return invalid(format!(
            "Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        ));
    }
    if r.cpu_shares != 0 && !(2..=262_144).contains(&r.cpu_shares) {
        return invalid(format!(
            "invalid CPU shares {}: must be between 2 and 262144",
            r.cpu_shares
        ));
    }
    if r.pids_limit.is_some_and(|p| p < -1) {
        return invalid("invalid pids limit: must be -1 (unlimited) or more".to_owned());
    }
    Ok(())
}

/// The shim's log options from `--log-opt`.
pub fn log_options(
    config: Option<&LogConfig>,
    path: std::path::PathBuf,
) -> DomainResult<LogOptions> {
    let mut options = LogOptions {
        path,
        max_size: DEFAULT_LOG_MAX_SIZE,
        max_files: DEFAULT_LOG_MAX_FILES,
    };
    let Some(config) = config else {
        return Ok(options);
    };
    if !matches!(config.r#type.as_str(), "" | "json-file") {
        return Err(DomainError::InvalidArgument(format!(
            "logging driver {:?} is not supported: only json-file",
            config.r#type
        )));
    }
    for (key, value) in &config.config {
        match key.as_str() {
            "max-size" => options.max_size = parse_size(value)?,
            "max-file" => {
                options.max_files = value.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    DomainError::InvalidArgument(format!(
                        "invalid max-file {value:?}: want a positive integer"
                    ))
                })?
            }
            other => {
                return Err(DomainError::InvalidArgument(format!(
                    "unknown log opt '{other}' for json-file log driver"
                )))
            }
        }
    }
    Ok(options)
}

/// Parses `10m`, `512k`, `1g` or plain bytes (decimal units, as Docker's log options).
fn parse_size(value: &str) -> DomainResult<u64> {
    let invalid = || DomainError::InvalidArgument(format!("invalid size: {value:?}"));
    let lower = value.trim().to_ascii_lowercase();
    let digits_end = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (number, unit) = lower.split_at(digits_end);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let factor: u64 = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1000,
        "m" => 1000 * 1000,
        "g" => 1000 * 1000 * 1000,
        _ => return Err(invalid()),
    };
    number
        .checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_out_of_range_are_invalid() {
        let ok = Resources {
            memory: 64 << 20,
            nano_cpus: 1_500_000_000,
            ..Resources::default()
        };
        resources(&ok, 2).unwrap();
        for bad in [
            Resources {
                memory: 1024,
                ..Resources::default()
            },
            Resources {
                memory: -5,
                ..Resources::default()
            },
            Resources {
                nano_cpus: -1,
                ..Resources::default()
            },
            Resources {
                nano_cpus: 3_000_000_000,
                ..Resources::default()
            },
            Resources {
                cpu_shares: 1,
                ..Resources::default()
            },
            Resources {
                memory_swap: 10 << 20,
                ..Resources::default()
            },
            Resources {
                pids_limit: Some(-2),
                ..Resources::default()
            },
        ] {
            assert!(resources(&bad, 2).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn log_options_parse_sizes_and_counts() {
        let config = LogConfig {
            r#type: "json-file".into(),
            config: [
                ("max-size".to_owned(), "1m".to_owned()),
                ("max-file".to_owned(), "2".to_owned()),
            ]
            .into(),
        };
        let o = log_options(Some(&config), "/x".into()).unwrap();
        assert_eq!((o.max_size, o.max_files), (1_000_000, 2));
        let d = log_options(None, "/x".into()).unwrap();
        assert_eq!((d.max_size, d.max_files), (10_000_000, 3));
        for (k, v) in [("max-size", "lots"), ("max-file", "0"), ("colour", "red")] {
            let bad = LogConfig {
                r#type: String::new(),
                config: [(k.to_owned(), v.to_owned())].into(),
            };
            assert!(log_options(Some(&bad), "/x".into()).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn unavailable_networks_and_volumes_are_unimplemented() {
        let host = HostConfig {
            network_mode: "bridge".into(),
            ..HostConfig::default()
        };
        assert!(matches!(
            host_config(&host, 2),
            Err(DomainError::Unimplemented(_))
        ));
        let host = HostConfig {
            network_mode: "mynet".into(),
            ..HostConfig::default()
        };
        assert!(matches!(
            host_config(&host, 2),
            Err(DomainError::InvalidArgument(_))
        ));
    }
}
