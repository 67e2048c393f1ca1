//! Request bodies as handlers see them: `client_body_timeout` is a deadline for the whole body, counted from when
//! the headers arrived (a body trickled a byte at a time cannot hold a request open), and whatever a handler left
//! unread is drained afterwards, a little and briefly, so that an answer given before the body was read (401, 404,
//! 413, …) does not cost an HTTP/1 client its keep-alive connection. When draining is not possible the answer says
//! `Connection: close`, so the client knows instead of finding a closed socket on its next request. `read` takes a
//! whole body up to `max_body_size`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Version, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

/// Unread body bytes drained after an early answer; a longer rest closes the connection instead.
const DRAIN_LIMIT: u64 = 64 * 1024;
/// How long draining may wait for the rest of a body (never past the body's own deadline).
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// The whole body did not arrive within `client_body_timeout`.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time (client_body_timeout)")]
pub struct BodyDeadline;

/// Middleware: gives the handler a body with a deadline, then drains (or gives up on) what it left unread.
pub async fn guard(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let deadline = Instant::now() + timeout;
    // Only HTTP/1 reuses the connection after a half-read body; HTTP/2 resets just the stream.
    let http1 = request.version() <= Version::HTTP_11;
    let expects_continue = request.headers().contains_key(header::EXPECT);
    let (parts, body) = request.into_parts();
    let (give_back, mut left) = oneshot::channel();
    let body = Body::new(Guarded {
        inner: Some(body),
        deadline,
        sleep: None,
        done: false,
        give_back: Some(give_back),
    });
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Ok(rest) = left.try_recv()
        && http1
        // A client waiting for `100 Continue` has sent nothing yet; reading would only invite the body.
        && (expects_continue || !drain(rest, deadline).await)
    {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads and discards what is left of a body; `true` when it all arrived within the limits.
async fn drain(mut body: Body, deadline: Instant) -> bool {
    if body.size_hint().lower() > DRAIN_LIMIT {
        return false;
    }
    let until = deadline.min(Instant::now() + DRAIN_TIME);
    let all = async {
        let mut seen = 0u64;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return false;
            };
            seen += frame.data_ref().map_or(0, |d| d.len() as u64);
            if seen > DRAIN_LIMIT {
                return false;
            }
        }
        true
    };
    tokio::time::timeout_at(until, all).await.unwrap_or(false)
}

/// The handler's view of the body. Dropped unfinished, it hands the rest back to `guard` for draining.
struct Guarded {
    inner: Option<Body>,
    deadline: Instant,
    /// Made on the first poll, so a request whose body is never read sets no timer.
    sleep: Option<Pin<Box<Sleep>>>,
    done: bool,
    give_back: Option<oneshot::Sender<Body>>,
}

impl HttpBody for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyDeadline))));
        }
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            this.done = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map(HttpBody::size_hint)
            .unwrap_or_default()
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        if let (Some(inner), Some(back)) = (self.inner.take(), self.give_back.take())
            && !self.done
            && !HttpBody::is_end_stream(&inner)
        {
            let _ = back.send(inner);
        }
    }
}

/// Reads a request body up to `limit` bytes; more is a 413.
pub async fn read(body: Body, limit: u64) -> Result<Bytes, super::ApiError> {
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let err = match axum::body::to_bytes(body, limit_usize).await {
        Ok(bytes) => return Ok(bytes),
        Err(err) => err,
    };
    let caused_by = |is: fn(&(dyn std::error::Error + 'static)) -> bool| {
        std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |e| {
            e.source()
        })
        .any(is)
    };
    if caused_by(|e| e.is::<http_body_util::LengthLimitError>()) {
        Err(super::ApiError::too_large(limit))
    } else if caused_by(|e| e.is::<BodyDeadline>()) {
        Err(super::ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "the request body did not arrive in time (client_body_timeout)",
        )
        .code("request_timeout"))
    } else {
        Err(super::ApiError::bad_request(format!(
            "cannot read the request body: {err}"
        )))
    }
}
