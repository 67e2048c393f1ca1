//! Why no token can serve, and when one will: the facts behind a 503/429 answer's message and `Retry-After`,
//! gathered from the pool without I/O. How they are worded and which status they make is the HTTP face's business
//! (`api::unavailable`).

use std::time::Duration;

use tokio::time::Instant;

use super::{Pool, StateKind};

/// Why one enabled token cannot take a request now, in the order messages list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// Cooling after a 429: back at its `until`.
    RateLimited,
    /// Out after a 403: back at its `until`.
    Forbidden,
    /// Exhausted (477 or a quota check): back when the quota resets.
    OutOfQuota,
    /// The licence is suspended (a 477 saying so): out until an operator re-enables the token or reloads.
    Suspended,
    /// The upstream answered 401: out until the JWT is refreshed or replaced.
    Rejected,
    /// The JWT's `exp` has passed: nothing is sent with it.
    Expired,
    /// Taken out of rotation by the operator (`POST /tokens/{token}/disable`): out until enabled or a reload.
    OperatorDisabled,
    /// Ejected after upstream faults: one probe request is let through at its `until`.
    Ejected,
    /// The one probe request of an ejected token is in flight: its result decides.
    Probing,
    /// Could serve, but is at its `max_concurrency`.
    Busy,
}

impl Cause {
    /// Causes that end by themselves soon: the request can simply be tried again in a moment.
    pub fn passes_soon(self) -> bool {
        matches!(self, Cause::Probing | Cause::Busy)
    }
}

/// The tokens of one cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub cause: Cause,
    pub count: usize,
    /// How long until the first of them is expected back, when that is known.
    pub soonest: Option<Duration>,
}

/// The pool as a client that got no token should hear about it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outlook {
    /// Enabled tokens.
    pub tokens: usize,
    /// Tokens switched off with `enabled: false`.
    pub disabled: usize,
    /// Enabled tokens that could take a request now (a request that still found none tried them already).
    pub available: usize,
    /// The rest, by cause, in `Cause` order.
    pub groups: Vec<Group>,
}

impl Outlook {
    /// How long until some token is expected to serve again: the soonest known return, or zero when one of the
    /// causes passes by itself at any moment. `None` when no token will come back by itself (all rejected,
    /// expired, suspended or disabled).
    pub fn soonest(&self) -> Option<Duration> {
        if self.available > 0 || self.groups.iter().any(|g| g.cause.passes_soon()) {
            return Some(Duration::ZERO);
        }
        self.groups.iter().filter_map(|g| g.soonest).min()
    }

    /// The group of `cause`, if any token has it.
    pub fn group(&self, cause: Cause) -> Option<&Group> {
        self.groups.iter().find(|g| g.cause == cause)
    }
}

impl Pool {
    /// Each enabled token's reason for not serving now, grouped, with the soonest return per cause.
    pub fn outlook(&self, now: Instant) -> Outlook {
        let now_unix = crate::epoch::now_secs();
        let mut outlook = Outlook::default();
        for slot in self.slots.iter() {
            if !slot.config.enabled {
                outlook.disabled += 1;
                continue;
            }
            outlook.tokens += 1;
            let (kind, until) = {
                let health = slot.state.standing();
                (health.kind, health.until)
            };
            // A period that has ended means the token may serve again (its next request decides).
            let over = until.is_some_and(|u| u <= now);
            let cause = if slot.operator_disabled() {
                Cause::OperatorDisabled
            } else if slot.expired(now_unix) {
                Cause::Expired
            } else {
                match kind {
                    StateKind::Cooling if !over => Cause::RateLimited,
                    StateKind::Forbidden if !over => Cause::Forbidden,
                    StateKind::Exhausted if !over => Cause::OutOfQuota,
                    StateKind::Suspended => Cause::Suspended,
                    StateKind::Ejected if !over => Cause::Ejected,
                    StateKind::Invalid => Cause::Rejected,
                    StateKind::Probing => Cause::Probing,
                    _ if slot
                        .config
                        .max_concurrency
                        .is_some_and(|max| slot.inflight() >= max) =>
                    {
                        Cause::Busy
                    }
                    _ => {
                        outlook.available += 1;
                        continue;
                    }
                }
            };
            let back_in = match cause {
                Cause::RateLimited | Cause::Forbidden | Cause::OutOfQuota | Cause::Ejected => {
                    until.map(|u| u.saturating_duration_since(now))
                }
                _ => None,
            };
            match outlook.groups.iter_mut().find(|g| g.cause == cause) {
                Some(group) => {
                    group.count += 1;
                    group.soonest = match (group.soonest, back_in) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => outlook.groups.push(Group {
                    cause,
                    count: 1,
                    soonest: back_in,
                }),
            }
        }
        outlook.groups.sort_by_key(|g| g.cause);
        outlook
    }
}
