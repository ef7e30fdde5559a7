//! `docker stats` rows.

use crate::output::humanize::{bytes_size, human_size, short_id};
use berth_proto::node::v1::ContainerStats;
use serde_json::{json, Value};

/// `docker stats`' default table.
pub const DEFAULT_TABLE: &str =
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// The column titles of the `stats` fields.
pub fn headers() -> Value {
    json!({
        "ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
        "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O",
        "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    })
}

/// The `stats` fields of one sample. Networking is `none`/`host` for now, so NetIO is zero.
pub fn row(stats: &ContainerStats) -> Value {
    json!({
        "ID": short_id(&stats.id),
        "Container": short_id(&stats.id),
        "Name": stats.name,
        "CPUPerc": format!("{:.2}%", stats.cpu_percent),
        "MemUsage": format!("{} / {}", bytes_size(stats.memory_usage as f64), bytes_size(stats.memory_limit as f64)),
        "MemPerc": format!("{:.2}%", stats.memory_percent),
        "NetIO": "0B / 0B",
        "BlockIO": format!("{} / {}", human_size(stats.block_read as f64, 3), human_size(stats.block_write as f64, 3)),
        "PIDs": stats.pids.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_docker_stats() {
        let stats = ContainerStats {
            id: "bd1849b4d12f5a33929206d04fb581ec01b30d4c91b15ca36cbe4195f48d470a".into(),
            name: "refctr".into(),
            cpu_percent: 0.0,
            memory_usage: 1_274_000,
            memory_limit: 64 << 20,
            memory_percent: 1.8983,
            pids: 1,
            block_read: 0,
            block_write: 4096,
            ..Default::default()
        };
        let row = row(&stats);
        assert_eq!(row["ID"], "bd1849b4d12f");
        assert_eq!(row["CPUPerc"], "0.00%");
        assert_eq!(row["MemUsage"], "1.215MiB / 64MiB");
        assert_eq!(row["MemPerc"], "1.90%");
        assert_eq!(row["BlockIO"], "0B / 4.1kB");
        assert_eq!(row["PIDs"], "1");
    }
}
