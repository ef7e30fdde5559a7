//! One log line in Docker's json-file format: `{"log":"...","stream":"stdout","time":"..."}`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{LogEntry, LogStream};

#[derive(Serialize)]
struct LineOut<'a> {
    log: &'a str,
    stream: &'a str,
    time: String,
}

#[derive(Deserialize)]
struct LineIn {
    log: String,
    stream: String,
    time: DateTime<Utc>,
}

impl LogStream {
    fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// Appends the JSON line (with its newline) for `data` to `out`. Bytes that are not UTF-8
/// become U+FFFD, as in Docker.
pub fn encode(stream: LogStream, time: DateTime<Utc>, data: &[u8], out: &mut Vec<u8>) {
    let line = LineOut {
        log: &String::from_utf8_lossy(data),
        stream: stream.as_str(),
        time: time.to_rfc3339_opts(SecondsFormat::Nanos, true),
    };
    // Writing strings into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &line);
    out.push(b'\n');
}

/// Parses one line; `None` for anything that is not a complete entry (a torn last line).
pub fn decode(line: &[u8]) -> Option<LogEntry> {
    let parsed: LineIn = serde_json::from_slice(line).ok()?;
    let stream = match parsed.stream.as_str() {
        "stdout" => LogStream::Stdout,
        "stderr" => LogStream::Stderr,
        _ => return None,
    };
    Some(LogEntry {
        stream,
        time: parsed.time,
        data: parsed.log.into_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_docker_format() {
        let time = Utc::now();
        let mut out = Vec::new();
        encode(LogStream::Stderr, time, b"a \"quoted\"\tline\n", &mut out);
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with(r#"{"log":"a \"quoted\"\tline\n","stream":"stderr","time":""#));
        assert!(text.ends_with("Z\"}\n"));
        let entry = decode(out.trim_ascii_end()).unwrap();
        assert_eq!(entry.stream, LogStream::Stderr);
        assert_eq!(entry.time, time);
        assert_eq!(entry.data, b"a \"quoted\"\tline\n");
        assert!(decode(&out[..out.len() / 2]).is_none());
    }

    #[test]
    fn reads_docker_written_lines() {
        let line = br#"{"log":"hi\n","stream":"stdout","time":"2024-05-01T10:00:00.5Z"}"#;
        let entry = decode(line).unwrap();
        assert_eq!(entry.data, b"hi\n");
        assert_eq!(entry.time.timestamp_subsec_millis(), 500);
    }
}
