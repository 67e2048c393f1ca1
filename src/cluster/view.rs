//! The cluster view (`/stats?scope=cluster`, `jbproxy stats --cluster`): every replica that heart-beat within
//! `REPLICA_TTL` (id, address, last seen, in flight) and each token merged over them (its shared state, the sums
//! of the replicas' counters). Each replica's record is the one its heartbeat writes (`replica_record`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Cluster, REPLICA_TTL, within};
use crate::pool::Pool;

/// What this replica's heartbeat says about it: address, start, and its counters per token.
pub(super) fn replica_record(cluster: &Cluster, pool: &Pool, now_ms: i64) -> Value {
    let tokens: serde_json::Map<String, Value> = pool
        .token_stats()
        .into_iter()
        .map(|t| {
            let failures: u64 = t.failures.values().filter_map(Value::as_u64).sum();
            (
                t.fingerprint.clone(),
                json!({
                    "name": t.name,
                    "state": t.state,
                    "requests": t.requests,
                    "successes": t.successes,
                    "failures": failures,
                    "inflight": t.inflight,
                }),
            )
        })
        .collect();
    let inflight: u64 = tokens.values().filter_map(|t| t["inflight"].as_u64()).sum();
    json!({
        "id": cluster.replica,
        "address": cluster.address(),
        "started": crate::jwt::rfc3339(crate::epoch::from_millis(cluster.started_ms)),
        "last_seen_ms": now_ms,
        "inflight": inflight,
        "tokens": tokens,
    })
}

impl Cluster {
    /// The cluster as Redis knows it; in memory mode, this replica alone. `Err` with a message when Redis does not
    /// answer (this replica's own `/stats` still does).
    pub async fn view(&self, pool: &Pool) -> Result<Value, String> {
        let now = crate::epoch::now_ms();
        let replicas = match self.connection() {
            None if self.is_shared() => {
                return Err(format!(
                    "the cluster view needs Redis, which is {} from this replica; GET /stats shows its own view",
                    self.status().trim_start_matches("redis: ")
                ));
            }
            None => vec![replica_record(self, pool, now)],
            Some(mut conn) => {
                let ids: Vec<String> = within(
                    redis::cmd("ZRANGEBYSCORE")
                        .arg(self.key("replicas"))
                        .arg(now - REPLICA_TTL.as_millis() as i64)
                        .arg("+inf")
                        .query_async(&mut conn),
                )
                .await
                .map_err(|e| format!("Redis failed: {e}"))?;
                let mut records = Vec::new();
                if !ids.is_empty() {
                    let mut cmd = redis::cmd("MGET");
                    for id in &ids {
                        cmd.arg(self.key(&format!("replica:{id}")));
                    }
                    let texts: Vec<Option<String>> = within(cmd.query_async(&mut conn))
                        .await
                        .map_err(|e| format!("Redis failed: {e}"))?;
                    records = texts
                        .into_iter()
                        .flatten()
                        .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
                        .collect();
                }
                // This replica's latest, not its last heartbeat's.
                records.retain(|r| r["id"] != self.replica.as_str());
                records.push(replica_record(self, pool, now));
                records
            }
        };
        Ok(merge(&self.replica, pool, replicas, now))
    }
}

/// The replicas' records merged: the replica list, and per token of this replica's pool its state here (the
/// shared one) and the sums of every replica's counters.
fn merge(own: &str, pool: &Pool, mut replicas: Vec<Value>, now_ms: i64) -> Value {
    replicas.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let mut sums: BTreeMap<String, [u64; 4]> = BTreeMap::new();
    for replica in &replicas {
        if let Some(tokens) = replica["tokens"].as_object() {
            for (fp, t) in tokens {
                let sum = sums.entry(fp.clone()).or_default();
                for (i, key) in ["requests", "successes", "failures", "inflight"]
                    .iter()
                    .enumerate()
                {
                    sum[i] += t[key].as_u64().unwrap_or(0);
                }
            }
        }
    }
    let tokens: Vec<Value> = pool
        .token_stats()
        .into_iter()
        .map(|t| {
            let sum = sums.get(&t.fingerprint).copied().unwrap_or_default();
            let replicas = replicas
                .iter()
                .filter(|r| r["tokens"].get(&t.fingerprint).is_some())
                .count();
            json!({
                "name": t.name,
                "fingerprint": t.fingerprint,
                "state": t.state,
                "reason": t.reason,
                "until": t.until,
                "usable": t.usable,
                "requests": sum[0],
                "successes": sum[1],
                "failures": sum[2],
                "inflight": sum[3],
                "replicas": replicas,
                // The shared snapshot: every replica's mirror holds the newest one any of them learned.
                "quota": t.quota,
            })
        })
        .collect();
    let shown: Vec<Value> = replicas
        .iter()
        .map(|r| {
            let seen = r["last_seen_ms"].as_i64().unwrap_or(now_ms);
            json!({
                "id": r["id"],
                "address": r["address"],
                "started": r["started"],
                "last_seen": crate::jwt::rfc3339(crate::epoch::from_millis(seen)),
                "last_seen_ms_ago": (now_ms - seen).max(0),
                "inflight": r["inflight"],
                "this": r["id"] == own,
            })
        })
        .collect();
    json!({
        "scope": "cluster",
        "replica": own,
        "replicas": shown,
        "tokens": tokens,
    })
}
