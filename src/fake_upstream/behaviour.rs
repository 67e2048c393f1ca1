//! What a token makes the fake do (`Behaviour`), and the canned error replies those behaviours produce.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// How the fake answers requests made with one token. Set per token name with `FakeUpstream::set_behaviour`.
///
/// Behaviours apply to chat and quota calls after the JWT and `grazie-agent` checks; on chat, an `Unauthorized`
/// token is refused before the body is validated and every other behaviour only after it, so a malformed body
/// is a 400 whatever the token does. The refresh endpoint ignores behaviours (it is how a 401 token recovers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Behaviour {
    /// A normal answer.
    #[default]
    Ok,
    /// 401, as for an invalid or revoked JWT.
    Unauthorized,
    /// 477 on chat; the quota endpoint reports nothing left (used == maximum, tariff available 0).
    QuotaExhausted,
    /// 429, with `Retry-After: <secs>` when given.
    RateLimited { retry_after_secs: Option<u64> },
    /// 500.
    ServerError,
    /// 400 with an opaque text body, as for a payload the upstream dislikes for reasons of its own.
    BadRequest,
    /// 200 headers at once; the first event (quota: the body) only after the delay.
    SlowFirstByte(Duration),
    /// Nothing at all, not even headers, until the delay; then a normal answer.
    SlowHeaders(Duration),
    /// 200 and the first `after_events` SSE events (quota: half the body), then the connection is dropped without
    /// `data: end`.
    CutMidStream { after_events: usize },
    /// A normal answer with this delay before every event after the first (quota: no effect).
    PauseBetweenEvents(Duration),
    /// 200 and the first `after_events` SSE events of the answer, then, instead of the rest, a non-content event
    /// (`QuotaMetadata`, `Ping`, an empty `Content`, an unknown metadata type, in turn) every `every`, forever: an
    /// upstream that keeps the stream open without answering (quota: no effect).
    KeepAlive {
        after_events: usize,
        every: Duration,
    },
    /// The request is accepted and never answered (until the client gives up or the fake shuts down).
    Hang,
}

/// 477 is JetBrains' own "quota exhausted" status; `StatusCode` accepts any three-digit code.
pub(super) fn quota_exhausted_status() -> StatusCode {
    StatusCode::from_u16(477).unwrap_or(StatusCode::TOO_MANY_REQUESTS)
}

/// The immediate error reply of an error behaviour, or `None` for behaviours that answer normally (perhaps late).
pub(super) fn error_reply(behaviour: &Behaviour) -> Option<Response> {
    match behaviour {
        Behaviour::Unauthorized => Some(text_error(
            StatusCode::UNAUTHORIZED,
            "invalid or expired token",
        )),
        Behaviour::QuotaExhausted => Some(text_error(quota_exhausted_status(), "quota exhausted")),
        Behaviour::RateLimited { retry_after_secs } => {
            let mut reply = text_error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            if let Some(secs) = retry_after_secs {
                reply
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*secs));
            }
            Some(reply)
        }
        Behaviour::ServerError => Some(text_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
        )),
        Behaviour::BadRequest => Some(text_error(
            StatusCode::BAD_REQUEST,
            "request rejected by upstream policy",
        )),
        Behaviour::Ok
        | Behaviour::SlowFirstByte(_)
        | Behaviour::SlowHeaders(_)
        | Behaviour::CutMidStream { .. }
        | Behaviour::PauseBetweenEvents(_)
        | Behaviour::KeepAlive { .. }
        | Behaviour::Hang => None,
    }
}

/// An opaque text error body, as the real service's bodies are to be treated. Prefixed so a test reading a
/// proxied error can tell it came from the fake; never contains a token.
pub(super) fn text_error(status: StatusCode, message: &str) -> Response {
    let body = format!("fake upstream: {} {message}", status.as_u16());
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}
