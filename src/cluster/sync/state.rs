//! The pool's state in Redis: reconciling the local mirror with it after a (re)connect or a reload, writing and
//! publishing the pool's changes and the quota snapshots learned, and applying what the other replicas publish.

use secrecy::SecretString;

use super::super::{Message, within};
use super::Session;
use crate::pool::Pool;
use crate::pool::shared::{Change, QuotaRecord, newer};

impl Session<'_> {
    /// After a (re)connect: for each token, the record that should stand (`pool::shared::newer`) is taken here or
    /// written there.
    pub(super) async fn reconcile(&mut self, pool: &Pool) -> Result<(), redis::RedisError> {
        let mut pipe = redis::pipe();
        for slot in pool.slots() {
            pipe.cmd("GET")
                .arg(self.cluster.key(&format!("token:{}", slot.fingerprint)));
        }
        for slot in pool.slots() {
            pipe.cmd("GET")
                .arg(self.cluster.key(&format!("quota:{}", slot.fingerprint)));
        }
        let mut remote: Vec<Option<String>> = within(pipe.query_async(&mut self.conn)).await?;
        let quotas = remote.split_off(pool.len().min(remote.len()));
        for (index, (slot, remote)) in pool.slots().iter().zip(quotas).enumerate() {
            let remote = remote.and_then(|text| serde_json::from_str::<QuotaRecord>(&text).ok());
            let local_at = pool.quota_record(index).map(|q| q.at_ms);
            match remote {
                Some(remote) if local_at.is_none_or(|at| at < remote.at_ms) => {
                    pool.adopt_quota(&slot.fingerprint, &remote);
                }
                Some(remote) if local_at == Some(remote.at_ms) => {}
                _ if local_at.is_some() => pool.reshare_quota(index),
                _ => {}
            }
        }
        let mut push = Vec::new();
        for (index, (slot, remote)) in pool.slots().iter().zip(remote).enumerate() {
            let Some(local) = pool.record(index) else {
                continue;
            };
            let remote = remote.and_then(|text| serde_json::from_str(&text).ok());
            match remote {
                Some(remote) if newer(&local, &remote) == &remote => {
                    if remote != local {
                        pool.adopt(&slot.fingerprint, &remote, "redis");
                    }
                }
                // A token nobody marked (never changed here either) needs no record.
                None if local.at_ms == 0 => {}
                _ => push.push(Change::Standing {
                    fingerprint: slot.fingerprint.clone(),
                    record: local,
                }),
            }
        }
        if !push.is_empty() {
            self.write(push).await?;
        }
        Ok(())
    }

    /// Writes the changes' records and publishes them, in one pipeline.
    pub(super) async fn write(&mut self, batch: Vec<Change>) -> Result<(), redis::RedisError> {
        let channel = self.cluster.key("events");
        let from = self.cluster.replica.clone();
        let mut pipe = redis::pipe();
        for change in batch {
            let message = match change {
                Change::Standing {
                    fingerprint,
                    record,
                } => {
                    let text = serde_json::to_string(&record).unwrap_or_default();
                    pipe.cmd("SET")
                        .arg(self.cluster.key(&format!("token:{fingerprint}")))
                        .arg(text)
                        .arg("EX")
                        .arg(RECORD_TTL_SECS)
                        .ignore();
                    Message::Standing {
                        from: from.clone(),
                        fp: fingerprint,
                        record,
                    }
                }
                Change::Operator {
                    fingerprint,
                    disabled,
                } => Message::Operator {
                    from: from.clone(),
                    fp: fingerprint,
                    disabled,
                },
                // Counts live in each replica's mirror, not in Redis: a message is all the others need.
                Change::Fault { fingerprint } => Message::Fault {
                    from: from.clone(),
                    fp: fingerprint,
                },
                Change::FaultsCleared { fingerprint } => Message::FaultsCleared {
                    from: from.clone(),
                    fp: fingerprint,
                },
            };
            let text = serde_json::to_string(&message).unwrap_or_default();
            pipe.cmd("PUBLISH").arg(&channel).arg(text).ignore();
        }
        within(pipe.query_async::<()>(&mut self.conn)).await
    }

    /// Writes and publishes the quota snapshots this replica learned since the last tick (a stream reports its
    /// quota with every answer: a tick's worth of them costs one write per token, not one per request).
    pub(super) async fn quotas(&mut self, pool: &Pool) -> Result<(), redis::RedisError> {
        let learned = pool.unshared_quotas();
        if learned.is_empty() {
            return Ok(());
        }
        let channel = self.cluster.key("events");
        let mut pipe = redis::pipe();
        for (fp, quota) in learned {
            let text = serde_json::to_string(&quota).unwrap_or_default();
            pipe.cmd("EVAL")
                .arg(SET_IF_NEWER)
                .arg(1)
                .arg(self.cluster.key(&format!("quota:{fp}")))
                .arg(text)
                .arg(quota.at_ms)
                .arg(RECORD_TTL_SECS)
                .ignore();
            let message = Message::Quota {
                from: self.cluster.replica.clone(),
                fp,
                quota,
            };
            let text = serde_json::to_string(&message).unwrap_or_default();
            pipe.cmd("PUBLISH").arg(&channel).arg(text).ignore();
        }
        within(pipe.query_async::<()>(&mut self.conn)).await
    }

    /// Applies another replica's message to the pool (this replica's own come back too, and are skipped).
    pub(super) async fn apply(
        &mut self,
        pool: &Pool,
        message: &redis::Msg,
    ) -> Result<(), redis::RedisError> {
        let Ok(text) = message.get_payload::<String>() else {
            return Ok(());
        };
        let Ok(message) = serde_json::from_str::<Message>(&text) else {
            tracing::debug!("state backend: ignored a message it does not know");
            return Ok(());
        };
        match message {
            Message::Standing { from, .. }
            | Message::Operator { from, .. }
            | Message::Jwt { from, .. }
            | Message::Quota { from, .. }
            | Message::Fault { from, .. }
            | Message::FaultsCleared { from, .. }
            | Message::Ping { from }
                if from == self.cluster.replica =>
            {
                self.heard = tokio::time::Instant::now();
            }
            Message::Ping { .. } => {}
            Message::Fault { fp, .. } => pool.adopt_fault(&fp),
            Message::FaultsCleared { fp, .. } => pool.adopt_faults_cleared(&fp),
            Message::Quota { fp, quota, .. } => {
                pool.adopt_quota(&fp, &quota);
            }
            Message::Standing { from, fp, record } => {
                pool.adopt(&fp, &record, &from);
            }
            Message::Operator { fp, disabled, .. } => pool.adopt_operator(&fp, disabled),
            Message::Jwt { fp, .. } => {
                let jwt: Option<String> = within(
                    redis::cmd("GET")
                        .arg(self.cluster.key(&format!("jwt:{fp}")))
                        .query_async(&mut self.conn),
                )
                .await?;
                if let Some(jwt) = jwt {
                    pool.adopt_jwt(&fp, SecretString::from(jwt));
                }
            }
        }
        Ok(())
    }
}

/// A standing record outlives any until-time it holds (a year at most, `standing::later`) but not forever: a
/// token removed from every config should not leave its key behind.
const RECORD_TTL_SECS: u64 = 400 * 86_400;

/// Writes a record (ARGV[1]) unless the key holds a newer one (a larger `at_ms` than ARGV[2]): two replicas that
/// learn a token's quota within one tick leave the newer snapshot, whichever writes last. Expires after ARGV[3] s.
const SET_IF_NEWER: &str = "\
local held = redis.call('GET', KEYS[1])
if held then
  local ok, record = pcall(cjson.decode, held)
  if ok and type(record) == 'table' and tonumber(record.at_ms) and tonumber(record.at_ms) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1";
