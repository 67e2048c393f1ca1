//! JWT refresh: a token with refresh credentials (`license_id` with `refresh_token` or `authorization`) gets a new
//! JWT through its chain (`credentials`), put to use at once (the JWT in memory only). The checker refreshes at
//! start and ahead of expiry; the relay when the upstream rejects a JWT mid-request, or when the only tokens left
//! have no live JWT (a request that arrives before the start-up refresh is done).

use std::time::Duration;

use secrecy::ExposeSecret;

use super::Live;
use crate::cluster::Turn;

/// A refreshable JWT is renewed when it has less than this left.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(15 * 60);

impl Live {
    /// Refreshes one token that cannot serve only because it has no live JWT (expired, or none yet) and that this
    /// request has not tried (`skip`), and returns the one refreshed, if any. Lets a request that arrives before the start-up refresh has
    /// finished, or after a JWT ran out between checks, wait for a JWT instead of getting a 503.
    pub async fn refresh_an_expired(&self, skip: impl Fn(usize) -> bool) -> Option<usize> {
        let now = crate::epoch::now_secs();
        let stale: Vec<usize> = (0..self.pool.len())
            .filter(|&i| {
                let slot = &self.pool.slots()[i];
                slot.config.enabled
                    && !slot.operator_disabled()
                    && slot.state_kind() != crate::pool::StateKind::Suspended
                    && slot.config.can_refresh()
                    && slot.expired(now)
                    && !skip(i)
            })
            .collect();
        for index in stale {
            if self.refresh_jwt(index).await {
                return Some(index);
            }
        }
        None
    }

    /// Whether token `index` should be refreshed before it is checked: it can be, and its JWT expires within
    /// `REFRESH_AHEAD` or was rejected. A cooling or ejected token's JWT is fine.
    pub fn refresh_due(&self, index: usize) -> bool {
        let slot = &self.pool.slots()[index];
        // Saturating: `exp` is whatever the JWT claims, `-1e300` included.
        let expiring = slot.state_exp().is_some_and(|exp| {
            exp.saturating_sub(crate::epoch::now_secs()) < REFRESH_AHEAD.as_secs() as i64
        });
        slot.config.can_refresh()
            && (expiring || slot.state_kind() == crate::pool::StateKind::Invalid)
    }

    /// A renewed JWT for token `index` after the upstream refused `rejected`: the one already in use if a refresh
    /// (here, or on another replica in the shared mode) replaced `rejected` meanwhile, else a refresh.
    pub async fn refresh_rejected(&self, index: usize, rejected: &str) -> bool {
        self.refresh_from(index, rejected).await
    }

    /// Exchanges token `index`'s refresh credentials for a new JWT and puts it to use. False when the token has no
    /// credentials or the exchange failed (logged). In the shared mode one replica refreshes (it holds the lock in
    /// Redis) and the others take its JWT (`cluster::refresh`).
    pub async fn refresh_jwt(&self, index: usize) -> bool {
        let Some(slot) = self.pool.slots().get(index) else {
            return false;
        };
        let stale = slot.current_jwt();
        self.refresh_from(index, stale.expose_secret()).await
    }

    /// Replaces `stale`, the JWT the caller found wanting, unless someone (a request or check here, holding the
    /// token's turn before us, or another replica) already has: then the JWT in use is theirs. Comparing with what
    /// the caller saw, not with what is current when the turn comes, is what keeps N waiters to one refresh.
    async fn refresh_from(&self, index: usize, stale: &str) -> bool {
        let Some(slot) = self.pool.slots().get(index) else {
            return false;
        };
        if !slot.config.can_refresh() {
            return false;
        }
        let Some(local_turn) = self.refreshing.get(index) else {
            return false;
        };
        let _local_turn = local_turn.lock().await;
        if slot.current_jwt().expose_secret() != stale {
            if slot.expired(crate::epoch::now_secs()) {
                return false;
            }
            self.pool.restore(index, "JWT refreshed");
            return true;
        }
        let current = slot.current_jwt();
        let turn = self
            .cluster
            .refresh_turn(&slot.fingerprint, current.expose_secret())
            .await;
        let theirs = match &turn {
            Turn::Done(jwt) => Some(jwt.clone()),
            Turn::Theirs => {
                self.cluster
                    .wait_for_jwt(slot, current.expose_secret())
                    .await
            }
            Turn::Alone | Turn::Mine => None,
        };
        if let Some(jwt) = theirs {
            self.pool.replace_jwt(index, jwt);
            self.pool.restore(index, "JWT refreshed by another replica");
            tracing::info!(token = %slot.label(), "JWT refreshed by another replica");
            return true;
        }
        match self.credentials.jwt(&self.upstream, &slot.config).await {
            Ok(jwt) => {
                if turn == Turn::Mine {
                    let exp = crate::jwt::DecodedJwt::decode(jwt.expose_secret())
                        .ok()
                        .and_then(|j| j.time_claim("exp"));
                    // Shared before the token is restored here, so the others hold the new JWT when they hear
                    // that the token serves again.
                    self.cluster.refreshed(&slot.fingerprint, &jwt, exp).await;
                }
                self.pool.replace_jwt(index, jwt);
                self.pool.restore(index, "JWT refreshed");
                tracing::info!(token = %slot.label(), "JWT refreshed");
                true
            }
            Err(err) => {
                if turn == Turn::Mine {
                    self.cluster.release(&slot.fingerprint).await;
                }
                tracing::warn!(token = %slot.label(), "JWT refresh failed: {err}");
                false
            }
        }
    }
}
