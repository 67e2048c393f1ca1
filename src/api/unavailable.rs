//! The answer when no token can serve, written so that clients' retry logic does the right thing:
//!
//! - **429** `rate_limit_error` when every token that could serve is only rate-limited (clients back off and retry),
//!   else **503** with the original project's message `no available JWT tokens: no healthy JWT tokens available`
//!   first (scripts match it);
//! - `Retry-After` in whole seconds, rounded **up** (a 2 s cool-down says 2), and never above `RETRY_AFTER_CAP`:
//!   SDKs sleep for whatever it says (anthropic-python slept through a quota reset days away);
//! - `x-should-retry: false` when no token is expected back within the cap (quota exhausted, every JWT rejected),
//!   which the openai and anthropic SDKs obey;
//! - a message naming each cause and until when: `3 tokens: 2 out of quota until 2026-12-02T00:00:00Z, 1 rejected
//!   (401)`.

use std::time::{Duration, SystemTime};

use axum::http::StatusCode;

use super::ApiError;
use crate::jwt::rfc3339;
use crate::pool::NO_TOKENS_MESSAGE;
use crate::pool::outlook::{Cause, Group, Outlook};

/// The longest `Retry-After` jbproxy sends. Past it a client is better told not to retry at all.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);

/// The error for a request no token could take, given the pool's `outlook` as of `now`.
pub fn no_token(outlook: &Outlook, now: SystemTime) -> ApiError {
    let rate_limited_only = outlook.group(Cause::RateLimited).is_some()
        && outlook.available == 0
        && outlook.groups.iter().all(|g| {
            matches!(
                g.cause,
                Cause::RateLimited
                    | Cause::OutOfQuota
                    | Cause::Rejected
                    | Cause::Expired
                    | Cause::Suspended
                    | Cause::OperatorDisabled
            )
        });
    let soonest = outlook.soonest();
    let within_cap = soonest.filter(|d| *d <= RETRY_AFTER_CAP);
    let advice = match (within_cap, soonest) {
        (Some(wait), _) => format!("retry after {} s", whole_seconds_up(wait)),
        (None, Some(wait)) => format!(
            "no token is expected back within {} s, so do not retry before {}",
            RETRY_AFTER_CAP.as_secs(),
            rfc3339(now + wait)
        ),
        (None, None) => {
            "no token will serve again by itself: refresh or replace the JWTs (see `jbproxy \
                         check-tokens`), or enable a token, then reload"
                .to_string()
        }
    };
    let summary = summary(outlook, now);
    let mut err = if rate_limited_only {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            format!("every usable JWT token is rate limited by JetBrains AI ({summary}); {advice}"),
        )
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable_error",
            format!("{NO_TOKENS_MESSAGE} ({summary}); {advice}"),
        )
    }
    .code("no_available_tokens");
    err.retry_after = Some(match within_cap {
        Some(wait) => whole_seconds_up(wait),
        None => RETRY_AFTER_CAP.as_secs(),
    });
    // Clients retry 429 and 503 by default; they only need telling when they should not.
    err.should_retry = within_cap.is_none().then_some(false);
    err
}

/// Whole seconds rounded up (a wait of 2.001 s says 3, so a client never comes back before a token does), at least 1:
/// `Retry-After: 0` would invite a busy loop.
fn whole_seconds_up(d: Duration) -> u64 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    secs.max(1)
}

/// `3 tokens: 2 out of quota until …, 1 rejected (401)`.
fn summary(outlook: &Outlook, now: SystemTime) -> String {
    let mut parts: Vec<String> = outlook.groups.iter().map(|g| group(g, now)).collect();
    if outlook.available > 0 {
        parts.push(format!("{} free again", outlook.available));
    }
    if outlook.disabled > 0 {
        parts.push(format!("{} more disabled in the config", outlook.disabled));
    }
    let head = crate::output::count(outlook.tokens, "token");
    match parts.is_empty() {
        true => head,
        false => format!("{head}: {}", parts.join(", ")),
    }
}

fn group(g: &Group, now: SystemTime) -> String {
    let until = |what: &str| match g.soonest {
        Some(wait) if g.count > 1 => format!("{what}, the first until {}", rfc3339(now + wait)),
        Some(wait) => format!("{what} until {}", rfc3339(now + wait)),
        None => what.to_string(),
    };
    let n = g.count;
    match g.cause {
        Cause::RateLimited => until(&format!("{n} rate limited (429)")),
        Cause::Forbidden => until(&format!("{n} forbidden (403)")),
        Cause::OutOfQuota => until(&format!("{n} out of quota")),
        Cause::Suspended => format!(
            "{n} suspended by JetBrains (477: licence suspended; re-enable or reload once it is lifted)"
        ),
        Cause::Rejected => format!("{n} rejected (401)"),
        Cause::Expired => format!("{n} with an expired JWT"),
        Cause::OperatorDisabled => format!("{n} disabled by the operator until the next reload"),
        Cause::Ejected => until(&format!("{n} failing (ejected after upstream errors)")),
        Cause::Probing => format!("{n} being tested by a probe request"),
        Cause::Busy => format!("{n} at max_concurrency"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outlook(groups: &[(Cause, usize, Option<u64>)]) -> Outlook {
        Outlook {
            tokens: groups.iter().map(|g| g.1).sum(),
            disabled: 0,
            available: 0,
            groups: groups
                .iter()
                .map(|&(cause, count, secs)| Group {
                    cause,
                    count,
                    soonest: secs.map(Duration::from_millis),
                })
                .collect(),
        }
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn rate_limited_tokens_are_a_429_with_the_cool_down_rounded_up() {
        let err = no_token(&outlook(&[(Cause::RateLimited, 2, Some(1_200))]), at(0));
        assert_eq!(err.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(err.kind, "rate_limit_error");
        assert_eq!(err.retry_after, Some(2));
        assert_eq!(err.should_retry, None);
        assert_eq!(
            err.message,
            "every usable JWT token is rate limited by JetBrains AI (2 tokens: 2 rate limited (429), the first \
             until 1970-01-01T00:00:01Z); retry after 2 s"
        );
        // Quota and rejected tokens cannot serve either way: the ones that could are only rate limited.
        let mixed = outlook(&[
            (Cause::RateLimited, 1, Some(5_000)),
            (Cause::OutOfQuota, 1, Some(9_000_000)),
            (Cause::Rejected, 1, None),
        ]);
        assert_eq!(
            no_token(&mixed, at(0)).status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[test]
    fn anything_else_is_a_503_starting_with_the_original_message() {
        let err = no_token(
            &outlook(&[
                (Cause::RateLimited, 1, Some(30_000)),
                (Cause::Ejected, 1, Some(4_000)),
            ]),
            at(0),
        );
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            err.message.starts_with(NO_TOKENS_MESSAGE),
            "{}",
            err.message
        );
        assert_eq!(err.retry_after, Some(4));
        let busy = no_token(&outlook(&[(Cause::Busy, 1, None)]), at(0));
        assert_eq!((busy.retry_after, busy.should_retry), (Some(1), None));
    }

    #[test]
    fn nothing_back_within_the_cap_says_so_until_when_and_not_to_retry() {
        let quota = outlook(&[
            (Cause::OutOfQuota, 2, Some(3_599_000)),
            (Cause::Rejected, 1, None),
        ]);
        let err = no_token(&quota, at(0));
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.retry_after, Some(60));
        assert_eq!(err.should_retry, Some(false));
        assert_eq!(
            err.message,
            format!(
                "{NO_TOKENS_MESSAGE} (3 tokens: 2 out of quota, the first until 1970-01-01T00:59:59Z, 1 rejected \
                 (401)); no token is expected back within 60 s, so do not retry before 1970-01-01T00:59:59Z"
            )
        );
        let dead = no_token(&outlook(&[(Cause::Rejected, 2, None)]), at(0));
        assert_eq!(
            (dead.retry_after, dead.should_retry),
            (Some(60), Some(false))
        );
        assert!(
            dead.message.contains("no token will serve again by itself"),
            "{}",
            dead.message
        );
        let limited = no_token(&outlook(&[(Cause::RateLimited, 1, Some(3_599_000))]), at(0));
        assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            (limited.retry_after, limited.should_retry),
            (Some(60), Some(false))
        );
    }

    #[test]
    fn suspended_and_forbidden_tokens_are_named_apart_from_quota() {
        let err = no_token(
            &outlook(&[
                (Cause::Forbidden, 1, Some(300_000)),
                (Cause::Suspended, 2, None),
            ]),
            at(0),
        );
        assert_eq!(err.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(err.should_retry, Some(false));
        assert_eq!(
            err.message,
            format!(
                "{NO_TOKENS_MESSAGE} (3 tokens: 1 forbidden (403) until 1970-01-01T00:05:00Z, 2 suspended by \
                 JetBrains (477: licence suspended; re-enable or reload once it is lifted)); no token is expected \
                 back within 60 s, so do not retry before 1970-01-01T00:05:00Z"
            )
        );
        let suspended = no_token(&outlook(&[(Cause::Suspended, 1, None)]), at(0));
        assert!(
            suspended
                .message
                .contains("no token will serve again by itself"),
            "{}",
            suspended.message
        );
    }

    #[test]
    fn operator_disabled_tokens_are_named_and_leave_a_rate_limit_a_429() {
        let off = no_token(&outlook(&[(Cause::OperatorDisabled, 2, None)]), at(0));
        assert_eq!(off.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(off.should_retry, Some(false));
        assert!(
            off.message
                .contains("(2 tokens: 2 disabled by the operator until the next reload)"),
            "{}",
            off.message
        );
        let limited = outlook(&[
            (Cause::RateLimited, 1, Some(5_000)),
            (Cause::OperatorDisabled, 1, None),
        ]);
        assert_eq!(
            no_token(&limited, at(0)).status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(whole_seconds_up(Duration::from_millis(1)), 1);
        assert_eq!(whole_seconds_up(Duration::ZERO), 1);
        assert_eq!(whole_seconds_up(Duration::from_millis(2_000)), 2);
        assert_eq!(whole_seconds_up(Duration::from_millis(2_001)), 3);
        let at_cap = no_token(&outlook(&[(Cause::RateLimited, 1, Some(60_000))]), at(0));
        assert_eq!((at_cap.retry_after, at_cap.should_retry), (Some(60), None));
    }
}
