//! StreamContainerStats: cgroup usage through the shims, CPU percent from deltas.

use std::{collections::HashMap, sync::Arc, time::Duration};

use berth_proto::node::v1::{ContainerStats, ContainerStatus, StreamContainerStatsResponse};
use berth_shim::CgroupStats;
use tokio::sync::mpsc;

use super::{entry::Entry, ContainerManager};
use crate::{error::DomainResult, host, time};

/// How often a stream samples.
const INTERVAL: Duration = Duration::from_secs(1);
/// The gap between the two samples of a one-shot read.
const ONE_SHOT_GAP: Duration = Duration::from_millis(500);

/// A stream of samples.
pub type StatsReceiver = mpsc::Receiver<DomainResult<StreamContainerStatsResponse>>;

/// The previous sample of one container.
#[derive(Clone, Copy)]
struct Previous {
    cpu_ns: u64,
    at: std::time::Instant,
}

impl ContainerManager {
    /// Streams samples of one container (`query`) or of every running one (empty `query`).
    pub async fn stats(self: &Arc<Self>, query: &str, stream: bool) -> DomainResult<StatsReceiver> {
        let single = if query.is_empty() {
            None
        } else {
            Some(self.lookup(query)?)
        };
        let (tx, rx) = mpsc::channel(4);
        let manager = Arc::clone(self);
        tokio::spawn(async move {
            let mem_total = host::mem_total();
            let mut previous: HashMap<String, Previous> = HashMap::new();
            if !stream {
                manager
                    .sample(single.as_ref(), &mut previous, mem_total)
                    .await;
                tokio::time::sleep(ONE_SHOT_GAP).await;
            }
            loop {
                let stats = manager
                    .sample(single.as_ref(), &mut previous, mem_total)
                    .await;
                let response = StreamContainerStatsResponse { stats };
                if tx.send(Ok(response)).await.is_err() || !stream {
                    return;
                }
                if single.as_ref().is_some_and(|e| e.watch().borrow().removed) {
                    return;
                }
                tokio::select! {
                    () = tokio::time::sleep(INTERVAL) => {}
                    () = tx.closed() => return,
                }
            }
        });
        Ok(rx)
    }

    async fn sample(
        &self,
        single: Option<&Arc<Entry>>,
        previous: &mut HashMap<String, Previous>,
        mem_total: u64,
    ) -> Vec<ContainerStats> {
        let entries = match single {
            Some(e) => vec![Arc::clone(e)],
            None => self
                .entries()
                .into_iter()
                .filter(|e| {
                    matches!(
                        e.status(),
                        ContainerStatus::Running | ContainerStatus::Paused
                    )
                })
                .collect(),
        };
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let running = matches!(
                entry.status(),
                ContainerStatus::Running | ContainerStatus::Paused
            );
            let raw = if running {
                self.shim(&entry.id).stats().await.unwrap_or_default()
            } else {
                CgroupStats::default()
            };
            let now = std::time::Instant::now();
            let cpu_percent = previous
                .get(&entry.id)
                .map_or(0.0, |p| cpu_percent(p.cpu_ns, raw.cpu_usage_ns, now - p.at));
            previous.insert(
                entry.id.clone(),
                Previous {
                    cpu_ns: raw.cpu_usage_ns,
                    at: now,
                },
            );
            out.push(sample_of(&entry, raw, cpu_percent, mem_total));
        }
        out
    }
}

/// CPU use between two samples in percent of one CPU.
fn cpu_percent(before_ns: u64, after_ns: u64, elapsed: Duration) -> f64 {
    let wall = elapsed.as_nanos() as f64;
    if wall <= 0.0 {
        return 0.0;
    }
    after_ns.saturating_sub(before_ns) as f64 / wall * 100.0
}

fn sample_of(entry: &Entry, raw: CgroupStats, cpu_percent: f64, mem_total: u64) -> ContainerStats {
    let limit = if raw.memory_limit == 0 || (mem_total > 0 && raw.memory_limit > mem_total) {
        mem_total
    } else {
        raw.memory_limit
    };
    let memory_percent = if limit == 0 {
        0.0
    } else {
        raw.memory_usage as f64 / limit as f64 * 100.0
    };
    ContainerStats {
        id: entry.id.clone(),
        name: entry.name(),
        read_at: Some(time::now()),
        cpu_percent,
        cpu_usage_ns: raw.cpu_usage_ns,
        memory_usage: raw.memory_usage,
        memory_limit: limit,
        memory_percent,
        pids: raw.pids,
        block_read: raw.block_read,
        block_write: raw.block_write,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_proto::node::v1::Container;

    #[test]
    fn cpu_percent_is_relative_to_one_cpu() {
        let second = Duration::from_secs(1);
        assert!((cpu_percent(0, 500_000_000, second) - 50.0).abs() < 1e-9);
        assert!((cpu_percent(0, 2_000_000_000, second) - 200.0).abs() < 1e-9);
        assert_eq!(cpu_percent(10, 5, second), 0.0);
        assert_eq!(cpu_percent(0, 5, Duration::ZERO), 0.0);
    }

    #[test]
    fn an_unlimited_container_is_measured_against_host_memory() {
        let entry = Entry::new(Container {
            id: "abc".into(),
            name: "web".into(),
            ..Container::default()
        });
        let raw = CgroupStats {
            memory_usage: 50,
            memory_limit: u64::MAX,
            ..CgroupStats::default()
        };
        let s = sample_of(&entry, raw, 0.0, 200);
        assert_eq!(s.memory_limit, 200);
        assert!((s.memory_percent - 25.0).abs() < 1e-9);
        let limited = CgroupStats {
            memory_usage: 50,
            memory_limit: 100,
            ..CgroupStats::default()
        };
        assert_eq!(sample_of(&entry, limited, 0.0, 200).memory_limit, 100);
    }
}
