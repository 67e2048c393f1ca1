//! `POST /v1/chat/completions`: parse, map the model, pick a token, fail over until an answer starts, then stream
//! (or collect) the translated answer.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use rand::RngExt;
use tokio_util::sync::CancellationToken;

use super::{ApiError, AppState, auth};
use crate::live::Live;
use crate::pool::{Outcome, Permit, QuotaInfo, Tried};
use crate::translate::events::UpstreamEvent;
use crate::translate::openai::ChatRequest;
use crate::translate::request::{self, GrazieRequest};
use crate::translate::response::ResponseBuilder;
use crate::translate::stream::ChunkTranslator;
use crate::upstream::{EventStream, UpstreamError};

pub async fn completions(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let live = app.snapshot();
    let started = Instant::now();
    match handle(&app, &live, &headers, body, started).await {
        Ok(response) => response,
        Err(err) => {
            crate::metrics::request_finished(err.status.as_u16(), "");
            tracing::info!(
                status = err.status.as_u16(),
                code = err.code.unwrap_or(""),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "chat completion failed: {}",
                err.message
            );
            err.into_response()
        }
    }
}

async fn handle(
    app: &AppState,
    live: &Arc<Live>,
    headers: &HeaderMap,
    body: Body,
    started: Instant,
) -> Result<Response, ApiError> {
    auth::check(live.client_key.as_ref(), headers)?;
    let limit = live.config.max_body_size;
    let bytes = read_body(body, limit).await?;
    let req: ChatRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid request body: {e}")))?;
    let profile = live
        .models
        .profile_for(&req.model)
        .ok_or_else(|| ApiError::model_not_found(&req.model))?;
    let grazie = request::build(&req, profile, live.config.upstream_api, now_ms())?;
    let meta = Meta {
        id: completion_id(),
        model: req.model.clone(),
        created: now_secs(),
        prompt_tokens: grazie.prompt_tokens,
        started,
    };
    let mut failover = Failover::new(live, grazie, started);
    if req.stream {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let begun = failover.start().await?;
        crate::metrics::request_finished(200, &meta.model);
        Ok(stream_response(
            begun,
            meta,
            include_usage,
            app.drain.clone(),
        ))
    } else {
        // Nothing reaches the client before the whole answer is in, so even a cut answer can fail over.
        loop {
            let begun = failover.start().await?;
            match collect(begun, &meta).await {
                Ok(json) => {
                    crate::metrics::request_finished(200, &meta.model);
                    return Ok((StatusCode::OK, axum::Json(json)).into_response());
                }
                Err((mut permit, err)) => {
                    permit.report(&err.outcome());
                    failover.failed(err);
                }
            }
        }
    }
}

async fn read_body(body: Body, limit: u64) -> Result<Bytes, ApiError> {
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    axum::body::to_bytes(body, limit_usize)
        .await
        .map_err(|err| {
            let too_large =
                std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
                    .any(|e| e.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::too_large(limit)
            } else {
                ApiError::bad_request(format!("cannot read the request body: {err}"))
            }
        })
}

/// Facts about one completion that every chunk repeats.
struct Meta {
    id: String,
    model: String,
    created: u64,
    prompt_tokens: u32,
    started: Instant,
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
    attempts: usize,
    max_attempts: usize,
    last_error: Option<UpstreamError>,
    received: Instant,
}

impl<'a> Failover<'a> {
    fn new(live: &'a Arc<Live>, request: GrazieRequest, received: Instant) -> Self {
        Self {
            received,
            live,
            request,
            tried: Tried::default(),
            attempts: 0,
            max_attempts: live.max_attempts(),
            last_error: None,
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
            let outcome: Result<(), UpstreamError> =
                match self.live.upstream.chat(permit.jwt(), &self.request).await {
                    Err(err) => Err(err),
                    Ok(mut events) => match events.next().await {
                        Some(Ok(first)) => {
                            crate::metrics::upstream_latency(sent.elapsed());
                            return Ok(Begun {
                                permit,
                                events,
                                first,
                                attempts: self.attempts,
                            });
                        }
                        Some(Err(err)) => Err(err),
                        None => Err(UpstreamError::Fault("upstream answer was empty".into())),
                    },
                };
            if let Err(err) = outcome {
                tracing::debug!(token = %permit.slot().label(), "attempt {} failed: {err}", self.attempts);
                permit.report(&err.outcome());
                if !err.retriable() {
                    return Err(ApiError::upstream(&err, self.attempts));
                }
                // A refreshed JWT deserves one more try on the same token.
                if matches!(err, UpstreamError::Unauthorized)
                    && crate::health::refresh(self.live, permit.index()).await
                {
                    self.tried.remove(permit.index());
                }
                self.last_error = Some(err);
            }
        }
        Err(self.give_up(None))
    }

    fn give_up(&self, retry_after: Option<std::time::Duration>) -> ApiError {
        if self.live.pool.usable_count() == 0 || self.last_error.is_none() {
            let soonest = retry_after.or_else(|| {
                self.live
                    .pool
                    .pick(&Tried::default())
                    .err()
                    .and_then(|u| u.retry_after)
            });
            return ApiError::no_tokens(soonest);
        }
        match &self.last_error {
            Some(err) => ApiError::upstream(err, self.attempts),
            None => ApiError::no_tokens(retry_after),
        }
    }
}

/// Reads a whole answer into one `chat.completion`. On failure, hands the permit back for reporting.
async fn collect(begun: Begun, meta: &Meta) -> Result<serde_json::Value, (Permit, UpstreamError)> {
    let Begun {
        mut permit,
        mut events,
        first,
        attempts,
    } = begun;
    let mut builder = ResponseBuilder::new(
        meta.id.clone(),
        meta.model.clone(),
        meta.created,
        meta.prompt_tokens,
    );
    let mut event = first;
    loop {
        if let UpstreamEvent::Quota(q) = &event {
            record_quota(&permit, q);
        }
        if event == UpstreamEvent::End {
            break;
        }
        builder.push(&event);
        event = match events.next().await {
            Some(Ok(next)) => next,
            Some(Err(err)) => return Err((permit, err)),
            None => UpstreamEvent::End,
        };
    }
    permit.report(&Outcome::Success);
    log_done(&permit, meta, attempts, false);
    Ok(builder.finish())
}

fn record_quota(permit: &Permit, q: &crate::translate::events::QuotaUpdate) {
    if let (Some(used), Some(maximum)) = (q.used, q.maximum) {
        permit.record_quota(QuotaInfo {
            used,
            maximum,
            left: (maximum - used).max(0.0),
            until: q
                .until_ms
                .and_then(|ms| u64::try_from(ms).ok())
                .map(|ms| UNIX_EPOCH + std::time::Duration::from_millis(ms)),
        });
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

/// The streaming body: one SSE frame per upstream event, written as soon as it arrives.
struct Streamer {
    permit: Permit,
    events: EventStream,
    pending: Option<UpstreamEvent>,
    translator: ChunkTranslator,
    meta: Meta,
    attempts: usize,
    drain: CancellationToken,
    chunks: Vec<String>,
    finished: bool,
}

fn stream_response(
    begun: Begun,
    meta: Meta,
    include_usage: bool,
    drain: CancellationToken,
) -> Response {
    let translator = ChunkTranslator::new(
        meta.id.clone(),
        meta.model.clone(),
        meta.created,
        include_usage,
        meta.prompt_tokens,
    );
    let streamer = Streamer {
        permit: begun.permit,
        events: begun.events,
        pending: Some(begun.first),
        translator,
        meta,
        attempts: begun.attempts,
        drain,
        chunks: Vec::with_capacity(4),
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
    response
}

impl Streamer {
    /// The next frame to send, or `None` when the stream is over.
    async fn next_frame(&mut self) -> Option<Bytes> {
        if self.finished {
            return None;
        }
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
                        Err(err) => return Some(self.fail(err)),
                    }
                }
            };
            match &event {
                UpstreamEvent::End => return Some(self.finish()),
                UpstreamEvent::Quota(q) => record_quota(&self.permit, q),
                _ => {}
            }
            self.translator.push(&event, &mut self.chunks);
            if !self.chunks.is_empty() {
                return Some(self.frame(false));
            }
        }
    }

    fn finish(&mut self) -> Bytes {
        self.finished = true;
        self.translator.finish(&mut self.chunks);
        self.permit.report(&Outcome::Success);
        log_done(&self.permit, &self.meta, self.attempts, true);
        self.frame(true)
    }

    /// Ends a started stream with an error object and no `[DONE]`, so the client knows the answer was cut.
    fn fail(&mut self, err: UpstreamError) -> Bytes {
        self.finished = true;
        if !self.drain.is_cancelled() {
            self.permit.report(&err.outcome());
        }
        tracing::warn!(token = %self.permit.slot().label(), "stream cut after it started: {err}");
        let error = ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            format!("the answer was cut: {err}"),
        )
        .code("stream_interrupted");
        self.chunks.push(error.body().to_string());
        self.frame(false)
    }

    fn frame(&mut self, done: bool) -> Bytes {
        let size: usize =
            self.chunks.iter().map(|c| c.len() + 8).sum::<usize>() + if done { 14 } else { 0 };
        let mut out = String::with_capacity(size);
        for chunk in self.chunks.drain(..) {
            out.push_str("data: ");
            out.push_str(&chunk);
            out.push_str("\n\n");
        }
        if done {
            out.push_str("data: [DONE]\n\n");
        }
        Bytes::from(out)
    }
}

fn completion_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let mut id = String::with_capacity(33);
    id.push_str("chatcmpl-");
    for _ in 0..24 {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
