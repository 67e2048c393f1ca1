//! Reading a chat answer: SSE framing (eventsource-stream) → `UpstreamEvent`s, with the first-event and idle
//! timeouts and a cap on a single line's size.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};

use super::{StreamTimeouts, UpstreamError};
use std::collections::VecDeque;

use crate::translate::events::{UpstreamEvent, parse_data_into};

/// A line longer than this is refused: large tool arguments fit easily, a runaway upstream does not.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

type SseStream = Pin<Box<dyn Stream<Item = Result<eventsource_stream::Event, String>> + Send>>;

/// The events of one chat answer, in order, ending with `UpstreamEvent::End`.
pub struct EventStream {
    inner: SseStream,
    timeouts: StreamTimeouts,
    seen_event: bool,
    ended: bool,
    unknown_events: u32,
    /// One SSE event can hold two of ours (a tool call's start with its first arguments).
    queued: VecDeque<UpstreamEvent>,
    parsed: Vec<UpstreamEvent>,
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
        let limited = whole_lines(bytes);
        let inner = limited.eventsource().map(|r| r.map_err(|e| e.to_string()));
        Self {
            inner: Box::pin(inner),
            timeouts,
            seen_event: false,
            ended: false,
            unknown_events: 0,
            queued: VecDeque::new(),
            parsed: Vec::with_capacity(2),
        }
    }

    /// The next meaningful event. `None` once `End` has been returned. Unknown and empty events are skipped
    /// (unknown and malformed ones counted); a stream that stops without `data: end` is an error, since the answer was cut.
    pub async fn next(&mut self) -> Option<Result<UpstreamEvent, UpstreamError>> {
        if let Some(event) = self.queued.pop_front() {
            return Some(Ok(event));
        }
        if self.ended {
            return None;
        }
        loop {
            let wait = if self.seen_event {
                self.timeouts.idle
            } else {
                self.timeouts.first_event
            };
            let item = match tokio::time::timeout(wait, self.inner.next()).await {
                Err(_) => {
                    self.ended = true;
                    let what = if self.seen_event {
                        "between events"
                    } else {
                        "before the first event"
                    };
                    return Some(Err(UpstreamError::Fault(format!(
                        "upstream went silent {what} for {wait:?}"
                    ))));
                }
                Ok(None) => {
                    self.ended = true;
                    return Some(Err(UpstreamError::Fault(
                        "upstream stream ended before `data: end`".into(),
                    )));
                }
                Ok(Some(Err(err))) => {
                    self.ended = true;
                    return Some(Err(UpstreamError::Fault(format!(
                        "upstream stream broken: {err}"
                    ))));
                }
                Ok(Some(Ok(event))) => event,
            };
            self.seen_event = true;
            self.parsed.clear();
            if let Err(err) = parse_data_into(&item.data, &mut self.parsed) {
                // One unreadable event should not cost the user the whole answer.
                self.unknown_events += 1;
                tracing::warn!("skipping a malformed upstream event: {err}");
                continue;
            }
            for event in self.parsed.drain(..) {
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
            if let Some(event) = self.queued.pop_front() {
                return Some(Ok(event));
            }
        }
    }

    pub fn unknown_events(&self) -> u32 {
        self.unknown_events
    }
}

/// Re-chunks `bytes` so every chunk ends at a line end (the tail of the stream excepted), refusing a line longer
/// than `MAX_LINE_BYTES`.
///
/// Why: the SSE parser re-scans its whole buffer each time a chunk arrives without finishing a line, so a long
/// line arriving in small pieces cost quadratic time (a 4 MiB line in 64 KiB chunks took seconds of CPU). Here a
/// partial line is only appended to, in linear time, and the parser sees it once, complete.
fn whole_lines(
    bytes: impl Stream<Item = Result<Bytes, String>> + Send + 'static,
) -> impl Stream<Item = Result<Bytes, String>> + Send + 'static {
    let too_long = || format!("upstream sent a line longer than {MAX_LINE_BYTES} bytes");
    futures_util::stream::unfold(
        (Box::pin(bytes), BytesMut::new(), false),
        move |(mut inner, mut pending, done)| async move {
            if done {
                return None;
            }
            loop {
                match inner.next().await {
                    Some(Ok(chunk)) => match chunk.iter().rposition(|&b| b == b'\n') {
                        Some(last) => {
                            let out = if pending.is_empty() {
                                chunk.slice(..=last)
                            } else {
                                pending.extend_from_slice(&chunk[..=last]);
                                pending.split().freeze()
                            };
                            pending.extend_from_slice(&chunk[last + 1..]);
                            // The finished lines go out before a too-long tail is refused.
                            let failed = (out.len() > MAX_LINE_BYTES && !has_short_lines(&out))
                                || pending.len() > MAX_LINE_BYTES;
                            if failed {
                                return Some((Err(too_long()), (inner, pending, true)));
                            }
                            return Some((Ok(out), (inner, pending, false)));
                        }
                        None => {
                            pending.extend_from_slice(&chunk);
                            if pending.len() > MAX_LINE_BYTES {
                                return Some((Err(too_long()), (inner, pending, true)));
                            }
                        }
                    },
                    Some(Err(err)) => return Some((Err(err), (inner, pending, true))),
                    None if pending.is_empty() => return None,
                    None => {
                        let tail = pending.split().freeze();
                        return Some((Ok(tail), (inner, pending, true)));
                    }
                }
            }
        },
    )
}

/// Whether every line in `chunk` is within `MAX_LINE_BYTES`.
fn has_short_lines(chunk: &[u8]) -> bool {
    chunk
        .split(|&b| b == b'\n')
        .all(|line| line.len() <= MAX_LINE_BYTES)
}
