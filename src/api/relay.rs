//! The relay shared by every API face (OpenAI, Anthropic): fail over until an answer starts, then stream it (or
//! collect it) through a face-specific format. One copy of the failover, streaming, cancellation and shutdown
//! logic; the faces differ only in how requests are parsed and answers written.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::stream;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::ApiError;
use crate::live::Live;
use crate::pool::{Outcome, Permit, QuotaInfo, Tried};
use crate::translate::events::{QuotaUpdate, UpstreamEvent};
use crate::translate::request::GrazieRequest;
use crate::upstream::{EventStream, UpstreamError};

/// How one API face writes a streamed answer. Each method appends complete SSE records to `out`.
pub trait StreamFormat: Send + 'static {
    fn event(&mut self, event: &UpstreamEvent, out: &mut String);
    /// The normal end: the last records and the face's end marker.
    fn finish(&mut self, out: &mut String);
    /// A terminal error after the stream started, written so the client can tell the answer was cut.
    fn error(&mut self, error: &ApiError, out: &mut String);
}

/// How one API face builds a non-streamed answer.
pub trait Collector {
    fn push(&mut self, event: &UpstreamEvent);
    fn finish(self) -> Value;
}

/// Facts about one answer, for logs and for the face's ids.
pub struct Meta {
    pub model: String,
    pub started: Instant,
}

/// Reads a request body up to `limit` bytes; more is a 413.
pub async fn read_body(body: Body, limit: u64) -> Result<Bytes, ApiError> {
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
        Err(ApiError::too_large(limit))
    } else if caused_by(|e| e.is::<super::body::BodyDeadline>()) {
        Err(ApiError::new(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "the request body did not arrive in time (client_body_timeout)",
        )
        .code("request_timeout"))
    } else {
        Err(ApiError::bad_request(format!(
            "cannot read the request body: {err}"
        )))
    }
}

/// Streams the answer to `request` in `format`. Errors before the first byte come back as `Err` (the face turns
/// them into its own error response); after that, the stream ends with the format's error record.
pub async fn stream<F: StreamFormat>(
    live: &Arc<Live>,
    request: GrazieRequest,
    meta: Meta,
    format: F,
    drain: CancellationToken,
) -> Result<Response, ApiError> {
    let begun = Failover::new(live, request, meta.started).start().await?;
    crate::metrics::request_finished(200, &meta.model);
    let streamer = Streamer {
        permit: begun.permit,
        events: begun.events,
        pending: Some(begun.first),
        format,
        meta,
        attempts: begun.attempts,
        drain,
        finished: false,
    };
    let body = stream::unfold(streamer, |mut s| async move {
        let frame = s.next_frame().await?;
        Some((Ok::<_, std::convert::Infallible>(frame), s))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Collects the whole answer. Nothing reaches the client before it is complete, so even an answer cut midway
/// fails over to another token.
pub async fn collect<C: Collector>(
    live: &Arc<Live>,
    request: GrazieRequest,
    meta: &Meta,
    mut new_collector: impl FnMut() -> C,
) -> Result<Value, ApiError> {
    let mut failover = Failover::new(live, request, meta.started);
    loop {
        let Begun {
            mut permit,
            mut events,
            first,
            attempts,
        } = failover.start().await?;
        let mut collector = new_collector();
        let mut event = first;
        let cut = loop {
            if let UpstreamEvent::Quota(q) = &event {
                record_quota(&permit, q);
            }
            if event == UpstreamEvent::End {
                break None;
            }
            collector.push(&event);
            event = match events.next().await {
                Some(Ok(next)) => next,
                Some(Err(err)) => break Some(err),
                None => UpstreamEvent::End,
            };
        };
        match cut {
            None => {
                permit.report(&Outcome::Success);
                log_done(&permit, meta, attempts, false);
                crate::metrics::request_finished(200, &meta.model);
                return Ok(collector.finish());
            }
            Some(err) => {
                tracing::debug!(token = %permit.slot().label(), "answer cut before completion, failing over: {err}");
                permit.report(&err.outcome());
                failover.failed(err);
            }
        }
    }
}

/// An answer that has started: the token that serves it, its events, and the first one.
struct Begun {
    permit: Permit,
    events: EventStream,
    first: UpstreamEvent,
    attempts: usize,
}

/// Tries tokens until one starts answering, never the same token twice (except once right after its JWT was
/// refreshed), at most `max_attempts` times.
struct Failover<'a> {
    live: &'a Arc<Live>,
    request: GrazieRequest,
    tried: Tried,
    /// Tokens whose JWT this request refreshed (each gets one retry).
    refreshed: Tried,
    attempts: usize,
    max_attempts: usize,
    last_error: Option<UpstreamError>,
    received: Instant,
}

impl<'a> Failover<'a> {
    fn new(live: &'a Arc<Live>, request: GrazieRequest, received: Instant) -> Self {
        Self {
            live,
            request,
            tried: Tried::default(),
            refreshed: Tried::default(),
            attempts: 0,
            max_attempts: live.max_attempts(),
            last_error: None,
            received,
        }
    }

    fn failed(&mut self, err: UpstreamError) {
        self.last_error = Some(err);
    }

    async fn start(&mut self) -> Result<Begun, ApiError> {
        while self.attempts < self.max_attempts {
            let mut permit = match self.live.pool.pick(&self.tried) {
                Ok(permit) => permit,
                Err(unavailable) => return Err(self.give_up(unavailable.retry_after)),
            };
            self.attempts += 1;
            self.tried.insert(permit.index());
            if self.attempts == 1 {
                crate::metrics::proxy_overhead(self.received.elapsed());
            }
            let sent = Instant::now();
            let err = match self.live.upstream.chat(permit.jwt(), &self.request).await {
                Err(err) => err,
                Ok(mut events) => match events.next().await {
                    Some(Ok(first)) => {
                        crate::metrics::upstream_latency(sent.elapsed());
                        self.live.reachability.observe(Ok(()));
                        return Ok(Begun {
                            permit,
                            events,
                            first,
                            attempts: self.attempts,
                        });
                    }
                    Some(Err(err)) => err,
                    None => UpstreamError::Fault("upstream answer was empty".into()),
                },
            };
            tracing::debug!(token = %permit.slot().label(), "attempt {} failed: {err}", self.attempts);
            self.live.reachability.observe(Err(&err));
            permit.report(&err.outcome());
            if !err.retriable() {
                return Err(ApiError::upstream(&err, self.attempts));
            }
            // A refreshed JWT deserves one more try on the same token, once per request; that try is extra, or a
            // pool of one could never use its refreshed JWT (max_attempts defaults to the token count).
            if matches!(err, UpstreamError::Unauthorized)
                && !self.refreshed.contains(permit.index())
                && self.live.refresh_jwt(permit.index()).await
            {
                self.refreshed.insert(permit.index());
                self.tried.remove(permit.index());
                self.max_attempts += 1;
            }
            self.last_error = Some(err);
        }
        Err(self.give_up(None))
    }

    /// The error when no attempt is left: the seed's 503 when no token can serve at all, else the last failure.
    fn give_up(&self, retry_after: Option<std::time::Duration>) -> ApiError {
        match &self.last_error {
            Some(err) if self.live.pool.usable_count() > 0 => {
                ApiError::upstream(err, self.attempts)
            }
            _ => {
                // Not `pick`: a successful pick would count as a request on some token.
                let soonest = retry_after
                    .or_else(|| self.live.pool.soonest_recovery(tokio::time::Instant::now()));
                ApiError::no_tokens(soonest)
            }
        }
    }
}

/// The body of a streamed answer: one frame per upstream event, written as soon as it arrives.
struct Streamer<F> {
    permit: Permit,
    events: EventStream,
    pending: Option<UpstreamEvent>,
    format: F,
    meta: Meta,
    attempts: usize,
    drain: CancellationToken,
    finished: bool,
}

impl<F: StreamFormat> Streamer<F> {
    /// The next frame to send, or `None` when the stream is over.
    async fn next_frame(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        let mut out = String::new();
        loop {
            let event = match self.pending.take() {
                Some(event) => event,
                None => {
                    let next = tokio::select! {
                        biased;
                        _ = self.drain.cancelled() => Err(UpstreamError::Fault("the proxy is shutting down".into())),
                        next = self.events.next() => next.unwrap_or(Ok(UpstreamEvent::End)),
                    };
                    match next {
                        Ok(event) => event,
                        Err(err) => {
                            self.fail(err, &mut out);
                            return Some(Bytes::from(out));
                        }
                    }
                }
            };
            match &event {
                UpstreamEvent::End => {
                    self.finish(&mut out);
                    return Some(Bytes::from(out));
                }
                UpstreamEvent::Quota(q) => record_quota(&self.permit, q),
                _ => {}
            }
            self.format.event(&event, &mut out);
            if !out.is_empty() {
                return Some(Bytes::from(out));
            }
        }
    }

    fn finish(&mut self, out: &mut String) {
        self.finished = true;
        self.format.finish(out);
        self.permit.report(&Outcome::Success);
        log_done(&self.permit, &self.meta, self.attempts, true);
    }

    fn fail(&mut self, err: UpstreamError, out: &mut String) {
        self.finished = true;
        // The shutdown cutting a stream says nothing about the token.
        if !self.drain.is_cancelled() {
            self.permit.report(&err.outcome());
        }
        tracing::warn!(token = %self.permit.slot().label(), "stream cut after it started: {err}");
        let error = ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("the answer was cut: {err}"),
        )
        .code("stream_interrupted");
        self.format.error(&error, out);
    }
}

fn record_quota(permit: &Permit, q: &QuotaUpdate) {
    if let (Some(used), Some(maximum)) = (q.used, q.maximum) {
        let until = q
            .until_ms
            .filter(|ms| *ms >= 0)
            .map(crate::epoch::from_millis);
        permit.record_quota(QuotaInfo::spent(used, maximum, until));
    }
}

fn log_done(permit: &Permit, meta: &Meta, attempts: usize, stream: bool) {
    tracing::info!(
        model = %meta.model,
        token = %permit.slot().label(),
        attempts,
        stream,
        elapsed_ms = meta.started.elapsed().as_millis() as u64,
        "chat completion served"
    );
}

/// Seconds since the epoch, for `created` fields.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Milliseconds since the epoch, for the upstream's `modified` stamps.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A random id with a face-specific prefix (`chatcmpl-`, `msg_`).
pub fn random_id(prefix: &str) -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    for _ in 0..24 {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}
