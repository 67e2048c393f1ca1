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
    /// 477 whose body says the licence is suspended, on chat, quota and profiles alike (what the real service
    /// answers on the other calls is not known; answering them all alike is the harder case for the proxy).
    Suspended,
    /// 403, with `Retry-After: <secs>` when given.
    Forbidden { retry_after_secs: Option<u64> },
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
    /// This 3xx status with `Location: <location>`, as a hijacked or misrouted upstream might answer.
    Redirect { status: u16, location: String },
    /// This status with this body, where every `{jwt}` is replaced by the JWT the request carried (an upstream that
    /// echoes the credential back).
    ErrorBody { status: u16, body: String },
    /// 500 with a body of this many bytes, streamed as it is read (nothing is held in memory).
    HugeError { bytes: u64 },
    /// 200 and exactly this SSE body, whatever the request asked (after it was validated): a recorded stream
    /// transcript (quota: no effect).
    RawStream(String),
}

/// 477 is JetBrains' own "quota exhausted" status; `StatusCode` accepts any three-digit code.
pub(super) fn quota_exhausted_status() -> StatusCode {
    StatusCode::from_u16(477).unwrap_or(StatusCode::TOO_MANY_REQUESTS)
}

/// The immediate error reply of an error behaviour, or `None` for behaviours that answer normally (perhaps late).
/// `jwt` is the request's raw JWT, for `ErrorBody` to echo.
pub(super) fn error_reply(behaviour: &Behaviour, jwt: &str) -> Option<Response> {
    match behaviour {
        Behaviour::Unauthorized => Some(text_error(
            StatusCode::UNAUTHORIZED,
            "invalid or expired token",
        )),
        Behaviour::QuotaExhausted => Some(text_error(quota_exhausted_status(), "quota exhausted")),
        Behaviour::Suspended => Some(text_error(
            quota_exhausted_status(),
            "Your license has been suspended. Contact JetBrains support.",
        )),
        Behaviour::RateLimited { retry_after_secs } => Some(retry_after(
            text_error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded"),
            *retry_after_secs,
        )),
        Behaviour::Forbidden { retry_after_secs } => Some(retry_after(
            text_error(
                StatusCode::FORBIDDEN,
                "access to this resource is forbidden",
            ),
            *retry_after_secs,
        )),
        Behaviour::ServerError => Some(text_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error",
        )),
        Behaviour::BadRequest => Some(text_error(
            StatusCode::BAD_REQUEST,
            "request rejected by upstream policy",
        )),
        Behaviour::Redirect { status, location } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::FOUND);
            let mut reply = text_error(status, "moved");
            if let Ok(location) = HeaderValue::from_str(location) {
                reply.headers_mut().insert(header::LOCATION, location);
            }
            Some(reply)
        }
        Behaviour::ErrorBody { status, body } => Some(
            (
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                [(header::CONTENT_TYPE, "application/json")],
                body.replace("{jwt}", jwt),
            )
                .into_response(),
        ),
        Behaviour::HugeError { bytes } => Some(huge_error(*bytes)),
        Behaviour::Ok
        | Behaviour::SlowFirstByte(_)
        | Behaviour::SlowHeaders(_)
        | Behaviour::CutMidStream { .. }
        | Behaviour::PauseBetweenEvents(_)
        | Behaviour::KeepAlive { .. }
        | Behaviour::RawStream(_)
        | Behaviour::Hang => None,
    }
}

fn retry_after(mut reply: Response, secs: Option<u64>) -> Response {
    if let Some(secs) = secs {
        reply
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    reply
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

/// A 500 whose body is `bytes` long, produced chunk by chunk only as fast as the client reads it.
fn huge_error(bytes: u64) -> Response {
    static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
    let chunks = futures_util::stream::unfold(bytes, |left| async move {
        if left == 0 {
            return None;
        }
        let n = usize::try_from(left).map_or(CHUNK.len(), |left| left.min(CHUNK.len()));
        let chunk = axum::body::Bytes::from_static(&CHUNK[..n]);
        Some((Ok::<_, std::convert::Infallible>(chunk), left - n as u64))
    });
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain")],
        axum::body::Body::from_stream(chunks),
    )
        .into_response()
}
