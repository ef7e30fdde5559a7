//! Daemon-side options of a container that the spec builder does not see: its log.

use berth_proto::node::v1::LogConfig;
use berth_shim::LogOptions;

use crate::error::{DomainError, DomainResult};

/// Default log rotation: 10 MB × 3 files.
const DEFAULT_LOG_MAX_SIZE: u64 = 10 * 1000 * 1000;
const DEFAULT_LOG_MAX_FILES: u32 = 3;

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
}
