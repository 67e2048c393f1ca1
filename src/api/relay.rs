//! The relay shared by every API face (OpenAI, Anthropic): fail over until an answer starts, then stream it (or
//! collect it) through the face's writer (`translate::SseWriter`, `translate::AnswerBuilder`). One copy of the
//! failover, streaming, cancellation and shutdown logic; the faces differ only in how requests are parsed and
//! answers written.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::stream;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::ApiError;
use crate::live::Live;
use crate::pool::{Outcome, Permit, QuotaInfo, Tried};
use crate::translate::{AnswerBuilder, SseWriter, StreamFailure};
use crate::upstream::event::{QuotaUpdate, UpstreamEvent};
use crate::upstream::request::GrazieRequest;
use crate::upstream::{EventStream, UpstreamError};

/// A frame gathering events that have already arrived goes out once it holds this much.
const COALESCED_BYTES: usize = 16 * 1024;

/// How many times a gathered frame lets the event loop run other tasks before it goes out with nothing more ready.
/// hyper's HTTP/1.1 client body holds one chunk at a time, handed over by the upstream connection's task, which
/// runs on the same loop: giving it turns lets the chunks it has already read (a burst of events in one read) join
/// this frame instead of costing a write each; two turns are what it takes
/// (`stream_timing::chunked_events_that_arrived_together_are_forwarded_together`). Nothing waits for bytes that
/// have not arrived: 36–46 % less CPU per streamed answer (BENCHMARKS.md, issue 16).
const TURNS_BEFORE_SENDING: u32 = 2;

/// A frame gives no more turns once it has been gathering this long: on a saturated loop a turn can take a while,
/// and events that keep arriving must not hold the first one back.
const GATHER_AT_MOST: std::time::Duration = std::time::Duration::from_millis(1);

/// Facts about one answer, for logs and for the face's ids.
pub struct Meta {
    pub model: String,
    pub started: Instant,
}

/// Streams the answer to `request` in `format`. Errors before the first byte come back as `Err` (the face turns
/// them into its own error response); after that, the stream ends with the format's error record.
pub async fn stream<F: SseWriter>(
    live: &Arc<Live>,
    request: GrazieRequest,
    meta: Meta,
    format: F,
    drain: CancellationToken,
) -> Result<Response, ApiError> {
    let begun = Failover::new(live, request, meta.started).start().await?;
    super::request_finished(200, &meta.model);
    let streamer = Streamer {
        permit: begun.permit,
        events: begun.events,
        pending: begun.opening,
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
pub async fn collect<C: AnswerBuilder>(
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
            mut opening,
            attempts,
        } = failover.start().await?;
        let mut collector = new_collector();
        let cut = loop {
            let event = match opening.pop_front() {
                Some(event) => event,
                None => match events.next().await {
                    Some(Ok(next)) => next,
                    Some(Err(err)) => break Some(err),
                    None => UpstreamEvent::End,
                },
            };
            if let UpstreamEvent::Quota(q) = &event {
                record_quota(&permit, q);
            }
            if event == UpstreamEvent::End {
                break None;
            }
            collector.push(&event);
        };
        match cut {
            None => {
                permit.report(&Outcome::Success);
                log_done(&permit, meta, attempts, false);
                super::request_finished(200, &meta.model);
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

/// An answer that has started: the token that serves it, its events, and those up to its first content.
struct Begun {
    permit: Permit,
    events: EventStream,
    opening: VecDeque<UpstreamEvent>,
    attempts: usize,
}

/// The events up to the first content (text or a tool call), or the whole of an answer without any. Until content
/// comes nothing reaches the client, so a failure (keep-alives past the first-content deadline included) can still
/// fail over to another token.
async fn opening(events: &mut EventStream) -> Result<VecDeque<UpstreamEvent>, UpstreamError> {
    let mut opening = VecDeque::new();
    loop {
        match events.next().await {
            Some(Ok(event)) => {
                let started = event.is_content() || event == UpstreamEvent::End;
                opening.push_back(event);
                if started {
                    return Ok(opening);
                }
            }
            Some(Err(err)) => return Err(err),
            None => return Err(UpstreamError::Fault("upstream answer was empty".into())),
        }
    }
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
                Err(_) => {
                    let refreshed = &self.refreshed;
                    let tried = &self.tried;
                    match self
                        .live
                        .refresh_an_expired(|i| refreshed.contains(i) || tried.contains(i))
                        .await
                    {
                        Some(index) => {
                            self.refreshed.insert(index);
                            continue;
                        }
                        None => return Err(self.give_up()),
                    }
                }
            };
            self.attempts += 1;
            self.tried.insert(permit.index());
            if self.attempts == 1 {
                crate::metrics::proxy_overhead(self.received.elapsed());
            }
            let sent = Instant::now();
            let err = match self.live.upstream.chat(permit.jwt(), &self.request).await {
                Err(err) => err,
                Ok(mut events) => match opening(&mut events).await {
                    Ok(opening) => {
                        let latency = sent.elapsed();
                        crate::metrics::upstream_latency(latency);
                        crate::traffic::record_latency(latency);
                        self.live.reachability.observe(Ok(()));
                        return Ok(Begun {
                            permit,
                            events,
                            opening,
                            attempts: self.attempts,
                        });
                    }
                    Err(err) => err,
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
                && self
                    .live
                    .refresh_rejected(permit.index(), permit.jwt())
                    .await
            {
                self.refreshed.insert(permit.index());
                self.tried.remove(permit.index());
                self.max_attempts += 1;
            }
            self.last_error = Some(err);
        }
        Err(self.give_up())
    }

    /// The error when no attempt is left: the last failure while some token could still serve, else the answer for
    /// "no token can serve" (a 503, or a 429 when the tokens are only rate limited; `api::unavailable`).
    fn give_up(&self) -> ApiError {
        match &self.last_error {
            Some(err) if self.live.pool.usable_count() > 0 => {
                ApiError::upstream(err, self.attempts)
            }
            // Not `pick`: a successful pick would count as a request on some token.
            _ => super::unavailable::no_token(
                &self.live.pool.outlook(tokio::time::Instant::now()),
                std::time::SystemTime::now(),
            ),
        }
    }
}

/// The body of a streamed answer: one frame per upstream event, written as soon as it arrives.
struct Streamer<F> {
    permit: Permit,
    events: EventStream,
    pending: VecDeque<UpstreamEvent>,
    format: F,
    meta: Meta,
    attempts: usize,
    drain: CancellationToken,
    finished: bool,
}

impl<F: SseWriter> Streamer<F> {
    /// The next frame to send, or `None` when the stream is over. Events that have already been received and handed
    /// over join the frame (one write for them all instead of one each); the frame never waits for one that has not.
    async fn next_frame(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
        let mut out = String::new();
        let mut turns_given = 0;
        let mut gathering_since: Option<std::time::Instant> = None;
        loop {
            let event = match self.pending.pop_front() {
                Some(event) => event,
                None if !out.is_empty() => match self.ready_event() {
                    Some(Ok(event)) => {
                        turns_given = 0;
                        event
                    }
                    Some(Err(err)) => {
                        self.fail(err, &mut out);
                        return Some(Bytes::from(out));
                    }
                    None if turns_given < TURNS_BEFORE_SENDING
                        && gathering_since
                            .get_or_insert_with(std::time::Instant::now)
                            .elapsed()
                            < GATHER_AT_MOST =>
                    {
                        turns_given += 1;
                        tokio::task::yield_now().await;
                        continue;
                    }
                    None => return Some(Bytes::from(out)),
                },
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
            self.format.push(&event, &mut out);
            if out.len() >= COALESCED_BYTES {
                return Some(Bytes::from(out));
            }
        }
    }

    /// An event that needs no waiting, for the frame being gathered; `None` when there is none (or shutdown began:
    /// the frame goes out and the next one watches the drain).
    fn ready_event(&mut self) -> Option<Result<UpstreamEvent, UpstreamError>> {
        if self.drain.is_cancelled() {
            return None;
        }
        self.events
            .next_ready()
            .map(|next| next.unwrap_or(Ok(UpstreamEvent::End)))
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
        let message = format!("the answer was cut: {err}");
        let failure = StreamFailure {
            status: axum::http::StatusCode::BAD_GATEWAY.as_u16(),
            kind: "upstream_error",
            code: Some("stream_interrupted"),
            message: &message,
        };
        self.format.fail(&failure, out);
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
