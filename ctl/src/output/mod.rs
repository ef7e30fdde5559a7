//! Output formats: Docker's tables, `json` lines and Go-style templates.

pub mod humanize;
pub mod progress;
pub mod table;
pub mod template;

use anyhow::Result;
use serde_json::Value;
use std::io::Write;
use template::Template;

/// How a list command prints its rows.
pub enum ListFormat {
    /// One JSON object per line.
    Json,
    /// A template; with `table` a header row and aligned columns.
    Template { template: Template, table: bool },
}

impl ListFormat {
    /// Parses `--format`: empty or `table` uses `default_table` (itself a `table …` template).
    pub fn parse(format: Option<&str>, default_table: &str) -> Result<ListFormat> {
        let format = format
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .unwrap_or("table");
        if format == "json" {
            return Ok(ListFormat::Json);
        }
        let format = if format == "table" {
            default_table
        } else {
            format
        };
        let (body, table) = match format.strip_prefix("table") {
            Some(rest) => (rest.trim_start(), true),
            None => (format, false),
        };
        Ok(ListFormat::Template {
            template: Template::parse(body)?,
            table,
        })
    }

    /// Renders rows (Docker-shaped objects); `headers` maps each field to its column title.
    pub fn render(&self, rows: &[Value], headers: &Value) -> Result<String> {
        match self {
            ListFormat::Json => {
                let mut out = String::new();
                for row in rows {
                    out.push_str(&serde_json::to_string(row)?);
                    out.push('\n');
                }
                Ok(out)
            }
            ListFormat::Template { template, table } => {
                let mut out = String::new();
                if *table {
                    out.push_str(&template.render(headers)?);
                    out.push('\n');
                }
                for row in rows {
                    out.push_str(&template.render(row)?);
                    out.push('\n');
                }
                Ok(if *table { table::align(&out) } else { out })
            }
        }
    }
}

/// Writes to stdout, ignoring a closed pipe (`berthctl ps | head -1`).
pub fn print(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// Prints a JSON value as Docker's `inspect` does: 4-space indentation.
pub fn pretty_json(value: &impl serde::Serialize) -> Result<String> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value.serialize(&mut serializer)?;
    out.push(b'\n');
    Ok(String::from_utf8(out)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_template_with_headers() {
        let format = ListFormat::parse(Some("table {{.ID}}\\t{{.Names}}"), "").unwrap();
        let rows = [json!({"ID": "abc", "Names": "web"})];
        let out = format
            .render(&rows, &json!({"ID": "CONTAINER ID", "Names": "NAMES"}))
            .unwrap();
        assert_eq!(out, "CONTAINER ID   NAMES\nabc            web\n");
    }

    #[test]
    fn plain_template_and_json() {
        let rows = [json!({"ID": "a"}), json!({"ID": "b"})];
        let format = ListFormat::parse(Some("{{.ID}}"), "").unwrap();
        assert_eq!(format.render(&rows, &json!({})).unwrap(), "a\nb\n");
        let format = ListFormat::parse(Some("json"), "").unwrap();
        assert_eq!(
            format.render(&rows, &json!({})).unwrap(),
            "{\"ID\":\"a\"}\n{\"ID\":\"b\"}\n"
        );
        let format = ListFormat::parse(None, "table {{.ID}}").unwrap();
        assert_eq!(
            format.render(&rows, &json!({"ID": "X"})).unwrap(),
            "X\na\nb\n"
        );
    }

    #[test]
    fn inspect_indentation() {
        assert_eq!(
            pretty_json(&json!([{"A": 1}])).unwrap(),
            "[\n    {\n        \"A\": 1\n    }\n]\n"
        );
    }
}
