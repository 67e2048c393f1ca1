//! Reading a chat answer: SSE framing (`sse`) → `UpstreamEvent`s, with the first-event and idle
//! timeouts and a cap on a single line's size.

use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::sse::SseDecoder;
use super::{StreamTimeouts, UpstreamError};
use std::collections::VecDeque;

use super::event::{UpstreamEvent, parse_data_into};

/// A line longer than this is refused: large tool arguments fit easily, a runaway upstream does not.
pub const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, String>> + Send>>;

/// The events of one chat answer, in order, ending with `UpstreamEvent::End`.
pub struct EventStream {
    inner: ByteStream,
    sse: SseDecoder,
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
            match tokio::time::timeout(wait, next_data(&mut self.inner, &mut self.sse)).await {
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
                Ok(Some(Ok(()))) => {}
            };
            self.seen_event = true;
            self.parsed.clear();
            if let Err(err) = parse_data_into(self.sse.current(), &mut self.parsed) {
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
mod tests {
    use std::time::Duration;

    use super::*;

    fn timeouts() -> StreamTimeouts {
        StreamTimeouts {
            first_event: Duration::from_secs(5),
            idle: Duration::from_secs(5),
        }
    }

    #[tokio::test]
    async fn a_whole_over_long_line_in_one_chunk_is_refused() {
        let mut body = b"data: {\"type\":\"Content\",\"content\":\"".to_vec();
        body.extend(std::iter::repeat_n(b'x', MAX_LINE_BYTES + 1));
        body.extend_from_slice(b"\"}\n\ndata: end\n\n");
        let bytes = futures_util::stream::iter([Ok::<_, String>(Bytes::from(body))]);
        let mut events = EventStream::from_bytes(bytes, timeouts());
        let first = events.next().await.expect("an item");
        assert!(
            matches!(first, Err(UpstreamError::Fault(ref m)) if m.contains("longer than")),
            "{first:?}"
        );
    }

    #[tokio::test]
    async fn lines_under_the_cap_pass_in_any_chunking() {
        let body = b"data: {\"type\":\"Content\",\"content\":\"hi\"}\n\ndata: end\n\n".to_vec();
        let chunks: Vec<Result<Bytes, String>> = body
            .chunks(3)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let mut events = EventStream::from_bytes(futures_util::stream::iter(chunks), timeouts());
        assert_eq!(
            events.next().await.expect("item").expect("event"),
            UpstreamEvent::Content("hi".into())
        );
        assert_eq!(
            events.next().await.expect("item").expect("event"),
            UpstreamEvent::End
        );
    }
}
