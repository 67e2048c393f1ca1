//! One refresh per JWT across the replicas: the replica that takes `lock:refresh:{fp}` (SET NX PX) refreshes and
//! stores the new JWT under `jwt:{fp}` (until its `exp`), then tells the others, who put it to use without asking
//! the upstream; a replica that finds the lock taken waits for that JWT instead of refreshing.
//!
//! The refreshed JWT is stored in Redis as it is (docs/DEPLOY.md, "What Redis holds"): every replica must be able
//! to use it, so any key to encrypt it would sit beside the Redis URL in every replica's config.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::{Cluster, Message, within};
use crate::pool::Slot;

/// How long a refresh may hold the lock: the chain (ID token, then JWT) with the upstream's timeouts fits well.
const LOCK_FOR: Duration = Duration::from_secs(30);

/// How long a replica waits for the JWT another one is refreshing before refreshing itself.
const WAIT_FOR: Duration = Duration::from_secs(10);

/// How often a replica waiting for another's refresh looks in Redis itself, in case it missed the message that
/// brings the JWT (a reconnect) or the holder gave up.
const LOOK_EVERY: Duration = Duration::from_secs(1);

/// Who refreshes a token's JWT.
#[derive(Debug)]
pub enum Turn {
    /// Another replica already refreshed it: here is its JWT (newer than the one this replica holds).
    Done(SecretString),
    /// No shared state, or Redis does not answer: this replica refreshes on its own.
    Alone,
    /// This replica holds the lock; `Cluster::refreshed` stores the JWT and releases it.
    Mine,
    /// Another replica holds it: wait for its JWT (`Cluster::wait_for_jwt`).
    Theirs,
}

impl PartialEq for Turn {
    fn eq(&self, other: &Self) -> bool {
        matches!(
            (self, other),
            (Turn::Alone, Turn::Alone) | (Turn::Mine, Turn::Mine) | (Turn::Theirs, Turn::Theirs)
        )
    }
}

/// Whether the stored JWT is a newer one than `current`: it expires later, or as late and was issued later. A JWT
/// without these claims counts as newer (a refresh stored it). A stale key (an older JWT another replica stored
/// before this one got a newer one) must not replace the newer one.
fn fresher(stored: &str, current: &str) -> bool {
    let times = |jwt: &str| {
        crate::jwt::DecodedJwt::decode(jwt)
            .ok()
            .and_then(|j| Some((j.time_claim("exp")?, j.time_claim("iat").unwrap_or(0))))
    };
    match (times(stored), times(current)) {
        (Some(a), Some(b)) => a > b,
        _ => true,
    }
}

impl Cluster {
    /// The JWT a replica stored for the token with this fingerprint.
    async fn stored_jwt(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        fingerprint: &str,
    ) -> Result<Option<String>, redis::RedisError> {
        within(
            redis::cmd("GET")
                .arg(self.key(&format!("jwt:{fingerprint}")))
                .query_async(conn),
        )
        .await
    }

    /// Takes the refresh lock for the token with this fingerprint, if the state is shared and no other replica
    /// already stored a JWT other than `current` (the one this replica holds, which the upstream refused or which
    /// expires soon).
    pub async fn refresh_turn(&self, fingerprint: &str, current: &str) -> Turn {
        let Some(mut conn) = self.connection() else {
            return Turn::Alone;
        };
        let stored = self.stored_jwt(&mut conn, fingerprint).await;
        match stored {
            // A Redis that does not answer now would not answer the lock either: refresh alone, without waiting.
            Err(_) => return Turn::Alone,
            Ok(Some(stored)) if stored != current && fresher(&stored, current) => {
                return Turn::Done(SecretString::from(stored));
            }
            Ok(_) => {}
        }
        let taken: Result<Option<String>, _> = within(
            redis::cmd("SET")
                .arg(self.key(&format!("lock:refresh:{fingerprint}")))
                .arg(&self.replica)
                .arg("NX")
                .arg("PX")
                .arg(LOCK_FOR.as_millis() as u64)
                .query_async(&mut conn),
        )
        .await;
        match taken {
            Ok(Some(_)) => {
                // The holder before us stores its JWT first and releases the lock after, so a lock taken between
                // our first look and now may follow a refresh we did not see: look again before refreshing.
                let stored = self.stored_jwt(&mut conn, fingerprint).await;
                match stored {
                    Ok(Some(stored)) if stored != current && fresher(&stored, current) => {
                        self.release(fingerprint).await;
                        Turn::Done(SecretString::from(stored))
                    }
                    _ => Turn::Mine,
                }
            }
            Ok(None) => Turn::Theirs,
            Err(_) => Turn::Alone,
        }
    }

    /// Stores the JWT this replica refreshed (until `exp`, when known), tells the other replicas, and releases
    /// the lock. Best effort: should Redis fail now, the others refresh on their own.
    pub async fn refreshed(&self, fingerprint: &str, jwt: &SecretString, exp: Option<i64>) {
        let Some(mut conn) = self.connection() else {
            return;
        };
        let ttl_ms = exp
            .map(|exp| {
                exp.saturating_sub(crate::epoch::now_secs())
                    .saturating_mul(1000)
            })
            .filter(|ms| *ms > 0)
            .unwrap_or(3_600_000);
        let message = Message::Jwt {
            from: self.replica.clone(),
            fp: fingerprint.to_string(),
        };
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.key(&format!("jwt:{fingerprint}")))
            .arg(jwt.expose_secret())
            .arg("PX")
            .arg(ttl_ms)
            .ignore();
        pipe.cmd("PUBLISH")
            .arg(self.key("events"))
            .arg(serde_json::to_string(&message).unwrap_or_default())
            .ignore();
        let _ = within(pipe.query_async::<()>(&mut conn)).await;
        self.release(fingerprint).await;
    }

    /// Releases the refresh lock if this replica still holds it (a failed refresh: another may try).
    pub async fn release(&self, fingerprint: &str) {
        let Some(mut conn) = self.connection() else {
            return;
        };
        // Compare and delete in one step: a lock that expired and was taken by another replica stays theirs.
        let script = redis::Script::new(
            "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
        );
        let _ = within(
            script
                .key(self.key(&format!("lock:refresh:{fingerprint}")))
                .arg(&self.replica)
                .invoke_async::<i64>(&mut conn),
        )
        .await;
    }

    /// Keeps a refresh token the account service rotated (`key`: the digest of the configured one, as the state
    /// file keys it), so that any replica can use the newest. A write that fails is said, and retried by the `sync`
    /// task every second until Redis takes it: until then the other replicas hold only the spent one.
    pub async fn rotated(&self, key: &str, refresh_token: &SecretString) {
        let written = match self.connection() {
            None if !self.is_shared() => return,
            None => Err(format!(
                "Redis is {}",
                self.status().trim_start_matches("redis: ")
            )),
            Some(mut conn) => self
                .write_refresh_token(&mut conn, key, refresh_token)
                .await
                .map_err(|e| e.to_string()),
        };
        let mut unshared = self.unshared.lock().unwrap_or_else(|p| p.into_inner());
        match written {
            Ok(()) => {
                unshared.remove(key);
            }
            Err(err) => {
                tracing::warn!(
                    "state backend: could not share the rotated refresh token {} ({err}); kept to share once \
Redis takes it (until then another replica's refresh of this token would start from the spent one)",
                    crate::secret::fingerprint(refresh_token.expose_secret())
                );
                unshared.insert(key.to_string(), refresh_token.clone());
            }
        }
    }

    /// Writes the rotated refresh tokens Redis did not take before; those it still refuses stay for the next try.
    pub(super) async fn share_unshared(&self, conn: &mut redis::aio::MultiplexedConnection) {
        let waiting: Vec<(String, SecretString)> = {
            let unshared = self.unshared.lock().unwrap_or_else(|p| p.into_inner());
            unshared
                .iter()
                .map(|(key, token)| (key.clone(), token.clone()))
                .collect()
        };
        for (key, token) in waiting {
            if self.write_refresh_token(conn, &key, &token).await.is_err() {
                continue;
            }
            let mut unshared = self.unshared.lock().unwrap_or_else(|p| p.into_inner());
            // A newer rotation while this one was being written stays for the next try.
            if unshared
                .get(&key)
                .is_some_and(|kept| kept.expose_secret() == token.expose_secret())
            {
                unshared.remove(&key);
            }
            tracing::info!(
                "state backend: shared the rotated refresh token {} Redis did not take before",
                crate::secret::fingerprint(token.expose_secret())
            );
        }
    }

    async fn write_refresh_token(
        &self,
        conn: &mut redis::aio::MultiplexedConnection,
        key: &str,
        token: &SecretString,
    ) -> Result<(), redis::RedisError> {
        within(
            redis::cmd("SET")
                .arg(self.key(&format!("refresh_token:{key}")))
                .arg(token.expose_secret())
                .query_async::<()>(conn),
        )
        .await
    }

    /// The newest rotated refresh token any replica kept for `key`.
    pub async fn refresh_token(&self, key: &str) -> Option<SecretString> {
        let mut conn = self.connection()?;
        let found: Option<String> = within(
            redis::cmd("GET")
                .arg(self.key(&format!("refresh_token:{key}")))
                .query_async(&mut conn),
        )
        .await
        .ok()?;
        found.map(SecretString::from)
    }

    /// Waits for the JWT the lock's holder refreshes: `slot`'s JWT once it differs from `current` (the sync task
    /// puts the holder's JWT to use as soon as it hears of it), with Redis looked at first (the holder may be done
    /// or gone already) and then every `LOOK_EVERY` in case the message was missed. `None` when the holder gave up
    /// (the lock is gone and no new JWT came) or the wait ran out; then this replica refreshes.
    pub async fn wait_for_jwt(&self, slot: &Slot, current: &str) -> Option<SecretString> {
        let deadline = tokio::time::Instant::now() + WAIT_FOR;
        let jwt_key = self.key(&format!("jwt:{}", slot.fingerprint));
        let lock_key = self.key(&format!("lock:refresh:{}", slot.fingerprint));
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return None;
            }
            let mut conn = self.connection()?;
            let (jwt, locked): (Option<String>, bool) = within(
                redis::pipe()
                    .cmd("GET")
                    .arg(&jwt_key)
                    .cmd("EXISTS")
                    .arg(&lock_key)
                    .query_async(&mut conn),
            )
            .await
            .ok()?;
            match jwt {
                Some(jwt) if jwt != current => return Some(SecretString::from(jwt)),
                _ if !locked => return None,
                _ => {}
            }
            if let Some(jwt) = slot.jwt_replaced(current, left.min(LOOK_EVERY)).await {
                return Some((*jwt).clone());
            }
        }
    }
}
