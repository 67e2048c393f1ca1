//! Reading a chat answer: SSE framing (`sse`) → `UpstreamEvent`s, with the first-content and idle deadlines and a
//! cap on a single line's size.
//!
//! Both deadlines are on *content* (text or a tool call): an upstream that keeps a stream open with keep-alive
//! events (`Ping`, unknown types, metadata, empty `Content`) and never answers must not hold a request forever.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::sse::SseDecoder;
use super::{StreamTimeouts, UpstreamError};
use std::collections::VecDeque;

use super::event::{EventError, UpstreamEvent, parse_data_into};
use super::native;
use crate::models::native::Family;

/// A line longer than this is refused: large tool arguments fit easily, a runaway upstream does not.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// The events of one chat answer, in order, ending with `UpstreamEvent::End`.
pub struct EventStream {
    inner: ByteStream,
    sse: SseDecoder,
    timeouts: StreamTimeouts,
    /// When waiting ends: `first_event` after the stream opened until content comes, then `idle` after the latest
    /// content. Other events do not move it.
    deadline: tokio::time::Instant,
    content_seen: bool,
    /// Events since the latest content (or since the start): says whether a timeout was silence or keep-alives.
    since_content: u32,
    ended: bool,
    unknown_events: u32,
    /// One SSE event can hold two of ours (a tool call's start with its first arguments), three with a change of
    /// answer.
    queued: VecDeque<UpstreamEvent>,
    /// The answer (`choiceIndex`) the latest events belonged to; a change is announced with `Choice`.
    choice: u32,
    parsed: Vec<UpstreamEvent>,
    /// The provider whose format a native route's stream is in; `None` for JetBrains' own events.
    native: Option<Family>,
}

impl EventStream {
    pub(super) fn new(response: reqwest::Response, timeouts: StreamTimeouts) -> Self {
        Self::from_bytes(
            response
                .bytes_stream()
                .map(|r| r.map_err(|e| e.to_string())),
            timeouts,
        )
    }

    /// Reads events from any byte stream (used by the client, and by tests with canned bytes).
    pub fn from_bytes(
        bytes: impl Stream<Item = Result<Bytes, String>> + Send + 'static,
        timeouts: StreamTimeouts,
    ) -> Self {
        let mut line_len = 0usize;
        let limited = bytes.map(move |chunk| {
            let chunk = chunk?;
            // Every line in the chunk counts, not only the one it ends in: a whole over-long line can arrive at once.
            let mut parts = chunk.split(|&b| b == b'\n');
            line_len += parts.next().map_or(0, <[u8]>::len);
            let mut longest = line_len;
            for part in parts {
                line_len = part.len();
                longest = longest.max(line_len);
            }
            if longest > MAX_LINE_BYTES {
                return Err(format!(
                    "upstream sent a line longer than {MAX_LINE_BYTES} bytes"
                ));
            }
            Ok(chunk)
        });
        Self {
            inner: Box::pin(limited),
            sse: SseDecoder::default(),
            deadline: tokio::time::Instant::now() + timeouts.first_event,
            timeouts,
            content_seen: false,
            since_content: 0,
            ended: false,
            unknown_events: 0,
            queued: VecDeque::new(),
            choice: 0,
            parsed: Vec::with_capacity(2),
            native: None,
        }
    }

    /// Reads the payloads in `native`'s format (a native route's stream), or as JetBrains' events for `None`.
    pub fn in_format(mut self, native: Option<Family>) -> Self {
        self.native = native;
        self
    }

    /// The next meaningful event. `None` once `End` has been returned. Unknown and empty events are skipped
    /// (unknown and malformed ones counted); a stream that stops without `data: end` is an error, since the answer
    /// was cut, and so is an `"event_type": "error"` line (a fault, like a 5xx: the relay fails over when nothing
    /// has reached the client yet).
    pub async fn next(&mut self) -> Option<Result<UpstreamEvent, UpstreamError>> {
        if let Some(event) = self.queued.pop_front() {
            return Some(Ok(event));
        }
        if self.ended {
            return None;
        }
        loop {
            let data = next_data(&mut self.inner, &mut self.sse);
            let got = tokio::time::timeout_at(self.deadline, data)
                .await
                .map_err(|_| ());
            if let Some(out) = self.take(got) {
                return out;
            }
        }
    }

    /// The next event if it needs no waiting: already queued, or decoded from bytes the connection has already
    /// received. `None` means it would have to wait (then `next` waits for it, under the deadlines).
    pub fn next_ready(&mut self) -> Option<Option<Result<UpstreamEvent, UpstreamError>>> {
        use futures_util::FutureExt as _;
        if let Some(event) = self.queued.pop_front() {
            return Some(Some(Ok(event)));
        }
        if self.ended {
            return Some(None);
        }
        loop {
            let got = next_data(&mut self.inner, &mut self.sse).now_or_never()?;
            if let Some(out) = self.take(Ok(got)) {
                return Some(out);
            }
        }
    }

    /// Turns what reading brought (`Err` when the deadline passed) into the answer of `next`, or `None` to read on.
    fn take(
        &mut self,
        got: Result<Option<Result<(), String>>, ()>,
    ) -> Option<Option<Result<UpstreamEvent, UpstreamError>>> {
        match got {
            Err(()) => {
                self.ended = true;
                return Some(Some(Err(UpstreamError::Fault(self.timed_out()))));
            }
            Ok(None) => {
                self.ended = true;
                return Some(Some(Err(UpstreamError::Fault(format!(
                    "upstream stream ended before {}",
                    self.native.map_or("`data: end`", native::end_marker)
                )))));
            }
            Ok(Some(Err(err))) => {
                self.ended = true;
                return Some(Some(Err(UpstreamError::Fault(format!(
                    "upstream stream broken: {err}"
                )))));
            }
            Ok(Some(Ok(()))) => {}
        };
        self.parsed.clear();
        let parsed = match self.native {
            None => parse_data_into(self.sse.current(), &mut self.parsed),
            Some(family) => {
                native::parse_into(family, self.sse.current(), &mut self.parsed).map(|()| None)
            }
        };
        match parsed {
            Ok(Some(choice)) if choice != self.choice => {
                self.choice = choice;
                self.queued.push_back(UpstreamEvent::Choice(choice));
            }
            Ok(_) => {}
            Err(err @ EventError::Reported { .. }) => {
                self.ended = true;
                return Some(Some(Err(UpstreamError::Fault(err.to_string()))));
            }
            Err(err) => {
                // One unreadable event should not cost the user the whole answer.
                self.unknown_events += 1;
                tracing::warn!("skipping a malformed upstream event: {err}");
                return None;
            }
        }
        for event in self.parsed.drain(..) {
            if event.is_content() {
                self.content_seen = true;
                self.since_content = 0;
                self.deadline = tokio::time::Instant::now() + self.timeouts.idle;
            } else {
                self.since_content = self.since_content.saturating_add(1);
            }
            match event {
                UpstreamEvent::Skip => {}
                UpstreamEvent::Unknown(kind) => {
                    self.unknown_events += 1;
                    tracing::debug!(event_type = %kind, "skipping unknown upstream event");
                }
                UpstreamEvent::End => {
                    self.ended = true;
                    self.queued.push_back(UpstreamEvent::End);
                    break;
                }
                event => self.queued.push_back(event),
            }
        }
        self.queued.pop_front().map(|event| Some(Ok(event)))
    }

    pub fn unknown_events(&self) -> u32 {
        self.unknown_events
    }

    /// Why the deadline passed: silence, or events that were not content.
    fn timed_out(&self) -> String {
        let n = self.since_content;
        match (self.content_seen, n) {
            (true, 0) => format!(
                "upstream went silent between events for {:?}",
                self.timeouts.idle
            ),
            (false, 0) => format!(
                "upstream went silent before the first event for {:?}",
                self.timeouts.first_event
            ),
            (true, _) => format!(
                "upstream went silent: no content for {:?} since the last, only {n} keep-alive or metadata event(s)",
                self.timeouts.idle
            ),
            (false, _) => format!(
                "upstream went silent: no content within {:?}, only {n} keep-alive or metadata event(s)",
                self.timeouts.first_event
            ),
        }
    }
}

/// Reads bytes until the decoder holds a complete event. `None` when the stream ends first (an unfinished event is
/// discarded); cancel-safe, since bytes enter the decoder only after they were received.
async fn next_data(inner: &mut ByteStream, sse: &mut SseDecoder) -> Option<Result<(), String>> {
    loop {
        match sse.next_event() {
            Ok(true) => return Some(Ok(())),
            Ok(false) => {}
            Err(err) => return Some(Err(err)),
        }
        match inner.next().await? {
            Ok(bytes) => sse.push(&bytes),
            Err(err) => return Some(Err(err)),
        }
    }
}

#[cfg(test)]
mod tests;
