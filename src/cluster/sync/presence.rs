//! This replica's presence in the cluster: its heartbeat (its entry in `replicas` and its `replica:{id}` record),
//! its leases (requests in flight per token) written and the other replicas' read into the pool, and its leaving.

use std::collections::HashMap;

use super::super::{HEARTBEAT_EVERY, REPLICA_TTL, within};
use super::Session;
use crate::pool::Pool;

impl Session<'_> {
    /// Writes this replica's requests in flight per token (when they changed, and every heartbeat so the lease
    /// stays alive), then reads the other live replicas' into the pool.
    pub(super) async fn leases(&mut self, pool: &Pool) -> Result<(), redis::RedisError> {
        let mine: HashMap<String, u32> = pool
            .slots()
            .iter()
            .filter(|s| s.inflight() > 0)
            .map(|s| (s.fingerprint.clone(), s.inflight()))
            .collect();
        let key = self.cluster.key(&format!("lease:{}", self.cluster.replica));
        let ttl_ms = REPLICA_TTL.as_millis() as u64;
        let now = crate::epoch::now_ms();
        let mut pipe = redis::pipe();
        if mine != self.leases || self.leases_written.elapsed() >= HEARTBEAT_EVERY {
            pipe.cmd("DEL").arg(&key).ignore();
            if !mine.is_empty() {
                pipe.cmd("HSET").arg(&key);
                for (fp, n) in &mine {
                    pipe.arg(fp).arg(n);
                }
                pipe.ignore();
                pipe.cmd("PEXPIRE").arg(&key).arg(ttl_ms).ignore();
            }
            self.leases = mine;
            self.leases_written = tokio::time::Instant::now();
        }
        pipe.cmd("ZRANGEBYSCORE")
            .arg(self.cluster.key("replicas"))
            .arg(now - ttl_ms as i64)
            .arg("+inf");
        let (others,): (Vec<String>,) = within(pipe.query_async(&mut self.conn)).await?;
        let others: Vec<String> = others
            .into_iter()
            .filter(|id| *id != self.cluster.replica)
            .collect();
        let mut counts: HashMap<String, u32> = HashMap::new();
        if !others.is_empty() {
            let mut pipe = redis::pipe();
            for id in &others {
                pipe.cmd("HGETALL")
                    .arg(self.cluster.key(&format!("lease:{id}")));
            }
            let leases: Vec<HashMap<String, u32>> =
                within(pipe.query_async(&mut self.conn)).await?;
            for lease in leases {
                for (fp, n) in lease {
                    *counts.entry(fp).or_default() += n;
                }
            }
        }
        pool.set_remote_inflight(&counts);
        Ok(())
    }

    /// This replica's heartbeat: its entry in `replicas` and its `replica:{id}` record (address, counters).
    pub(super) async fn heartbeat(&mut self, pool: &Pool) -> Result<(), redis::RedisError> {
        let now = crate::epoch::now_ms();
        let ttl_ms = REPLICA_TTL.as_millis() as i64;
        let record = super::super::view::replica_record(self.cluster, pool, now);
        let mut pipe = redis::pipe();
        pipe.cmd("ZADD")
            .arg(self.cluster.key("replicas"))
            .arg(now)
            .arg(&self.cluster.replica)
            .ignore();
        // Replicas gone for a long while leave the set (the view filters the recently gone by score).
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(self.cluster.key("replicas"))
            .arg("-inf")
            .arg(now - 10 * ttl_ms)
            .ignore();
        pipe.cmd("SET")
            .arg(
                self.cluster
                    .key(&format!("replica:{}", self.cluster.replica)),
            )
            .arg(record.to_string())
            .arg("PX")
            .arg(ttl_ms)
            .ignore();
        within(pipe.query_async::<()>(&mut self.conn)).await
    }

    /// A clean stop: this replica leaves the cluster view and its leases go at once (best effort).
    pub(super) async fn leave(&mut self) {
        let id = &self.cluster.replica;
        let mut pipe = redis::pipe();
        pipe.cmd("ZREM")
            .arg(self.cluster.key("replicas"))
            .arg(id)
            .ignore();
        pipe.cmd("DEL")
            .arg(self.cluster.key(&format!("replica:{id}")))
            .arg(self.cluster.key(&format!("lease:{id}")))
            .ignore();
        let _ = within(pipe.query_async::<()>(&mut self.conn)).await;
    }
}
