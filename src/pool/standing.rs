//! One token's standing, the token state machine: it turns upstream outcomes into "can this token serve now?".
//!
//! Pure and clock-injected: every method takes `now`, so the rules are tested with paused time, and nothing here
//! does I/O or logs. Transitions are returned to the caller, which logs each one once.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

/// How many consecutive faults (5xx, connect errors, timeouts) eject a token.
pub const EJECT_AFTER_FAULTS: u32 = 3;
/// The first ejection lasts this long; each further one doubles it, up to `MAX_EJECTION`.
pub const BASE_EJECTION: Duration = Duration::from_secs(5);
pub const MAX_EJECTION: Duration = Duration::from_secs(300);
/// A 429 without `Retry-After` cools for this long, doubling on repeats, up to `MAX_COOLDOWN`.
pub const BASE_COOLDOWN: Duration = Duration::from_secs(2);
pub const MAX_COOLDOWN: Duration = Duration::from_secs(120);
/// A 477 without a known reset time keeps the token out this long before the next quota check may say otherwise.
pub const DEFAULT_EXHAUSTION: Duration = Duration::from_secs(3600);
/// A 403 without `Retry-After` keeps the token out this long: G2A's cool-down for a forbidden credential
/// (docs/UPSTREAM.md, "HTTP errors"). It is not doubled: a 403 says nothing about load.
pub const FORBIDDEN_COOLDOWN: Duration = Duration::from_secs(300);

/// What happened when a token was used (or checked).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Success,
    /// 401: the JWT is not accepted.
    Unauthorized,
    /// 477, or a quota check showing nothing left; `until` is the quota's reset time when known.
    QuotaExhausted {
        until: Option<SystemTime>,
    },
    /// 429; `retry_after` from the header when given.
    RateLimited {
        retry_after: Option<Duration>,
    },
    /// 403: the upstream refuses this token for now; `retry_after` from the header when given.
    Forbidden {
        retry_after: Option<Duration>,
    },
    /// 477 whose body speaks of a suspension: the licence is suspended, which no timer or check undoes.
    Suspended,
    /// 5xx, timeout, a stream cut before it started.
    Fault,
    /// The upstream could not be reached at all: not the token's doing, so no penalty.
    Unreachable,
    /// 400/404/413/422: the request was bad, not the token. No penalty.
    RequestError,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    Healthy,
    Cooling,
    Ejected,
    Probing,
    Exhausted,
    Invalid,
    /// Out after a 403 until its cool-down ends.
    Forbidden,
    /// Out after a suspension 477 until an operator re-enables the token or reloads: checks and refreshes do not
    /// bring it back, since the upstream may well answer them while the licence stays suspended for chat.
    Suspended,
}

impl StateKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::Healthy => "healthy",
            StateKind::Cooling => "cooling",
            StateKind::Ejected => "ejected",
            StateKind::Probing => "probing",
            StateKind::Exhausted => "exhausted",
            StateKind::Invalid => "invalid",
            StateKind::Forbidden => "forbidden",
            StateKind::Suspended => "suspended",
        }
    }

    /// The kind `as_str` names; `None` for anything else (a record another version wrote).
    pub fn parse(name: &str) -> Option<Self> {
        [
            StateKind::Healthy,
            StateKind::Cooling,
            StateKind::Ejected,
            StateKind::Probing,
            StateKind::Exhausted,
            StateKind::Invalid,
            StateKind::Forbidden,
            StateKind::Suspended,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// A token's state. `until` is when it may serve again (None: until a check or refresh says so).
#[derive(Debug, Clone)]
pub struct Standing {
    pub kind: StateKind,
    pub reason: String,
    pub since: SystemTime,
    pub until: Option<Instant>,
    /// When the state was last set (a repeated cooldown too, unlike `since`): the shared state's "newest wins".
    pub changed: SystemTime,
    consecutive_faults: u32,
    ejections: u32,
    cooldowns: u32,
}

/// A change of state worth one log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: StateKind,
    pub to: StateKind,
    pub reason: String,
}

impl Default for Standing {
    fn default() -> Self {
        Self {
            kind: StateKind::Healthy,
            reason: String::new(),
            since: SystemTime::now(),
            until: None,
            // Never changed: any state another replica recorded is newer.
            changed: SystemTime::UNIX_EPOCH,
            consecutive_faults: 0,
            ejections: 0,
            cooldowns: 0,
        }
    }
}

/// Whether a token may take a request now, and if it does, whether that request is the half-open probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Serve,
    Probe,
    No,
}

impl Standing {
    pub fn admission(&self, now: Instant) -> Admission {
        match self.kind {
            StateKind::Healthy => Admission::Serve,
            StateKind::Probing | StateKind::Invalid | StateKind::Suspended => Admission::No,
            StateKind::Cooling | StateKind::Exhausted | StateKind::Forbidden => match self.until {
                Some(until) if now >= until => Admission::Serve,
                _ => Admission::No,
            },
            // After the ejection, exactly one request goes through to decide; the rest wait for its result.
            StateKind::Ejected => match self.until {
                Some(until) if now >= until => Admission::Probe,
                _ => Admission::No,
            },
        }
    }

    /// Marks the half-open probe as taken so no second request is let through meanwhile.
    pub fn start_probe(&mut self) {
        self.kind = StateKind::Probing;
    }

    /// When a token that cannot serve now will be able to, if that is known.
    pub fn ready_at(&self) -> Option<Instant> {
        match self.kind {
            StateKind::Cooling
            | StateKind::Exhausted
            | StateKind::Ejected
            | StateKind::Forbidden => self.until,
            _ => None,
        }
    }

    /// Applies an outcome; returns the transition when the state kind changed.
    pub fn apply(&mut self, outcome: &Outcome, now: Instant) -> Option<Transition> {
        let before = self.kind;
        // Only an operator lifts a suspension (`lift`); a request that was in flight when it came, or a check
        // that the quota endpoint still answers, must not.
        if before == StateKind::Suspended {
            return None;
        }
        match outcome {
            Outcome::Success => {
                self.consecutive_faults = 0;
                self.cooldowns = 0;
                if self.kind != StateKind::Healthy {
                    self.ejections = 0;
                    self.set(StateKind::Healthy, "request succeeded", None);
                }
            }
            Outcome::RequestError => {
                // The token answered, so a pending probe succeeded as far as the token is concerned.
                if self.kind == StateKind::Probing {
                    self.consecutive_faults = 0;
                    self.set(StateKind::Healthy, "probe answered", None);
                }
            }
            Outcome::Unauthorized => self.set(
                StateKind::Invalid,
                "upstream answered 401 (JWT not accepted)",
                None,
            ),
            Outcome::QuotaExhausted { until } => {
                let wait = until
                    .and_then(|t| t.duration_since(SystemTime::now()).ok())
                    .unwrap_or(DEFAULT_EXHAUSTION);
                let reason = match until {
                    Some(t) => format!("quota exhausted until {}", crate::jwt::rfc3339(*t)),
                    None => "quota exhausted (reset time unknown)".to_string(),
                };
                self.set(StateKind::Exhausted, &reason, Some(later(now, wait)));
            }
            Outcome::RateLimited { retry_after } => {
                self.cooldowns = self.cooldowns.saturating_add(1);
                let wait = retry_after
                    .unwrap_or_else(|| backoff(BASE_COOLDOWN, self.cooldowns, MAX_COOLDOWN));
                let reason = format!(
                    "rate limited (429), cooling for {}",
                    crate::jwt::short_duration(wait)
                );
                self.set(StateKind::Cooling, &reason, Some(later(now, wait)));
            }
            Outcome::Forbidden { retry_after } => {
                let wait = retry_after.unwrap_or(FORBIDDEN_COOLDOWN);
                let reason = format!(
                    "forbidden (403), out for {}",
                    crate::jwt::short_duration(wait)
                );
                self.set(StateKind::Forbidden, &reason, Some(later(now, wait)));
            }
            Outcome::Suspended => self.set(
                StateKind::Suspended,
                "licence suspended (477); re-enable the token or reload once JetBrains has lifted it",
                None,
            ),
            Outcome::Unreachable => {
                // A probe that could not reach anyone proved nothing: the next request may probe again.
                if self.kind == StateKind::Probing {
                    let reason = self.reason.clone();
                    self.set(StateKind::Ejected, &reason, Some(now));
                }
            }
            Outcome::Fault => {
                self.consecutive_faults = self.consecutive_faults.saturating_add(1);
                if self.kind == StateKind::Probing || self.consecutive_faults >= EJECT_AFTER_FAULTS
                {
                    self.ejections = self.ejections.saturating_add(1);
                    let wait = backoff(BASE_EJECTION, self.ejections, MAX_EJECTION);
                    let reason = format!(
                        "{} consecutive upstream faults, ejected for {}",
                        self.consecutive_faults,
                        crate::jwt::short_duration(wait)
                    );
                    self.set(StateKind::Ejected, &reason, Some(later(now, wait)));
                }
            }
        }
        (self.kind != before).then(|| Transition {
            from: before,
            to: self.kind,
            reason: self.reason.clone(),
        })
    }

    /// A working JWT replaced an invalid one (refresh) or a check passed: serve again at once. A suspended token
    /// stays suspended (see `lift`).
    pub fn restore(&mut self, reason: &str) -> Option<Transition> {
        if self.kind == StateKind::Suspended {
            return None;
        }
        self.lift(reason)
    }

    /// An operator's word (a reload, re-enabling the token): serve again at once, whatever the state, a suspension
    /// included.
    pub fn lift(&mut self, reason: &str) -> Option<Transition> {
        let before = self.kind;
        self.consecutive_faults = 0;
        self.ejections = 0;
        self.cooldowns = 0;
        self.set(StateKind::Healthy, reason, None);
        (before != StateKind::Healthy).then(|| Transition {
            from: before,
            to: StateKind::Healthy,
            reason: reason.to_string(),
        })
    }

    /// Takes the state another replica set (`pool::shared`): its kind, reason and until-time, as if it had happened
    /// here. A healthy state also clears the counts, as a lift does.
    pub fn adopt(
        &mut self,
        kind: StateKind,
        reason: &str,
        until: Option<Instant>,
        changed: SystemTime,
    ) -> Option<Transition> {
        let before = self.kind;
        if kind == StateKind::Healthy {
            self.consecutive_faults = 0;
            self.ejections = 0;
            self.cooldowns = 0;
        }
        self.set(kind, reason, until);
        self.changed = changed;
        (self.kind != before).then(|| Transition {
            from: before,
            to: self.kind,
            reason: self.reason.clone(),
        })
    }

    /// Another replica counted a fault on this token (`pool::shared`): it counts here as if it had happened here, so
    /// faults spread over the replicas eject as they would on one. It ejects only a token that serves (healthy or
    /// cooling); a probe here is decided by its own request. Returns the transition.
    pub fn remote_fault(&mut self, now: Instant) -> Option<Transition> {
        match self.kind {
            StateKind::Healthy | StateKind::Cooling => self.apply(&Outcome::Fault, now),
            StateKind::Suspended => None,
            _ => {
                self.consecutive_faults = self.consecutive_faults.saturating_add(1);
                None
            }
        }
    }

    /// Another replica's request succeeded: the faults counted so far were not consecutive after all.
    pub fn clear_faults(&mut self) {
        self.consecutive_faults = 0;
    }

    /// Healthy with nothing counted against it: a success would change nothing.
    pub fn is_clean(&self) -> bool {
        self.kind == StateKind::Healthy && self.consecutive_faults == 0 && self.cooldowns == 0
    }

    pub fn consecutive_faults(&self) -> u32 {
        self.consecutive_faults
    }

    fn set(&mut self, kind: StateKind, reason: &str, until: Option<Instant>) {
        if kind != self.kind {
            self.since = SystemTime::now();
        }
        self.kind = kind;
        self.reason = reason.to_string();
        self.until = until;
        self.changed = SystemTime::now();
    }
}

/// `now + wait`, without the overflow panic an absurd wait (a quota reset in the year 30000, a huge `Retry-After`)
/// would cause: such a wait is cut to a year, and the checker will have looked again long before.
fn later(now: Instant, wait: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 86_400);
    now.checked_add(wait.min(YEAR)).unwrap_or(now)
}

/// `base × 2^(n-1)`, capped.
fn backoff(base: Duration, n: u32, cap: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(n.saturating_sub(1).min(16))
        .unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(cap)
}

#[cfg(test)]
mod tests;
