//! Whether JetBrains AI could be reached lately, as health checks and requests found it; `/health` reports it.
//!
//! Being unable to connect says nothing about a token, so it is recorded here and not against the tokens.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::upstream::UpstreamError;

/// The upstream's reachability, shared by the snapshots of one upstream (kept across reloads that keep it).
#[derive(Debug, Default)]
pub struct Reachability {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Set while every attempt since the last answer failed to connect: since when, and the last error.
    failing: Option<(Instant, String)>,
    answered_once: bool,
}

/// What `/health` says about the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Nothing has been sent yet.
    Unknown,
    /// The last attempt got an answer (any HTTP status: even a 401 proves the network path works).
    Reachable,
    /// The attempts since `since` found no upstream to talk to; `error` is the last one.
    Unreachable { since: Instant, error: String },
}

impl Reachability {
    /// Records how an upstream call ended.
    pub fn observe(&self, result: Result<(), &UpstreamError>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Err(UpstreamError::Unreachable(error)) => {
                let since = state
                    .failing
                    .take()
                    .map_or_else(Instant::now, |(since, _)| since);
                state.failing = Some((since, error.clone()));
            }
            _ => {
                state.failing = None;
                state.answered_once = true;
            }
        }
    }

    pub fn status(&self) -> Status {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &state.failing {
            Some((since, error)) => Status::Unreachable {
                since: *since,
                error: error.clone(),
            },
            None if state.answered_once => Status::Reachable,
            None => Status::Unknown,
        }
    }
}

/// How long the upstream must have been unreachable before `/health` answers 503 rather than 200 "degraded": three
/// check intervals, so one lost round does not take a replica out of a load balancer.
pub fn down_after(check_interval: Duration) -> Duration {
    check_interval.saturating_mul(3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn unreachable_since_the_first_failure_until_any_answer() {
        let r = Reachability::default();
        assert_eq!(r.status(), Status::Unknown);
        let start = Instant::now();
        r.observe(Err(&UpstreamError::Unreachable(
            "connection refused".into(),
        )));
        tokio::time::advance(Duration::from_secs(5)).await;
        r.observe(Err(&UpstreamError::Unreachable("dns error".into())));
        assert_eq!(
            r.status(),
            Status::Unreachable {
                since: start,
                error: "dns error".into()
            }
        );
        r.observe(Err(&UpstreamError::Unauthorized));
        assert_eq!(r.status(), Status::Reachable);
    }
}
