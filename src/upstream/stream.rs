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
use super::native::{self, Dialect};

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
    /// JetBrains' events, or a native route's provider format.
    dialect: Dialect,
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
            dialect: Dialect::Grazie,
        }
    }

    /// Reads the payloads as `dialect` (a native route's stream) instead of JetBrains' events.
    pub fn in_dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
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
                return Some(Some(Err(UpstreamError::Fault(
                    "upstream stream ended before `data: end`".into(),
                ))));
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
        let parsed = match self.dialect {
            Dialect::Grazie => parse_data_into(self.sse.current(), &mut self.parsed),
            dialect => {
                native::parse_into(dialect, self.sse.current(), &mut self.parsed).map(|()| None)
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

    /// `frames` one after another, each `every` after the previous one, then (when `forever`) a `Ping` every
    /// `every` without end.
    fn timed(
        frames: &'static [&'static str],
        every: Duration,
        forever: bool,
    ) -> impl Stream<Item = Result<Bytes, String>> + Send + 'static {
        futures_util::stream::unfold(0usize, move |i| async move {
            let frame = match frames.get(i) {
                Some(frame) => *frame,
                None if forever => "data: {\"type\":\"Ping\"}\n\n",
                None => return None,
            };
            tokio::time::sleep(every).await;
            Some((Ok(Bytes::from_static(frame.as_bytes())), i + 1))
        })
    }

    const LIMITS: StreamTimeouts = StreamTimeouts {
        first_event: Duration::from_secs(2),
        idle: Duration::from_secs(1),
    };

    #[tokio::test(start_paused = true)]
    async fn keep_alives_do_not_hold_off_the_first_content_deadline() {
        let started = tokio::time::Instant::now();
        let keep_alives: &[&str] = &[
            "data: {\"type\":\"Content\",\"content\":\"\"}\n\n",
            "data: {\"type\":\"UnknownMetadata\"}\n\n",
        ];
        let mut events =
            EventStream::from_bytes(timed(keep_alives, Duration::from_millis(500), true), LIMITS);
        let err = events
            .next()
            .await
            .expect("an item")
            .expect_err("no content");
        assert_eq!(started.elapsed(), LIMITS.first_event);
        let message = err.to_string();
        assert!(message.contains("no content within 2s"), "{message}");
        assert!(message.contains("keep-alive"), "{message}");
    }

    #[tokio::test(start_paused = true)]
    async fn returned_metadata_does_not_count_as_content_either() {
        let frames: &[&str] = &[
            "data: {\"type\":\"QuotaMetadata\",\"updated\":{}}\n\n",
            "data: {\"type\":\"FinishMetadata\",\"reason\":\"stop\"}\n\n",
        ];
        let mut events =
            EventStream::from_bytes(timed(frames, Duration::from_millis(500), true), LIMITS);
        assert!(matches!(
            events.next().await,
            Some(Ok(UpstreamEvent::Quota(_)))
        ));
        assert!(matches!(
            events.next().await,
            Some(Ok(UpstreamEvent::Finish(_)))
        ));
        let err = events
            .next()
            .await
            .expect("an item")
            .expect_err("no content");
        assert!(err.to_string().contains("no content within"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn after_content_keep_alives_do_not_hold_off_the_idle_deadline() {
        let frames: &[&str] = &["data: {\"type\":\"Content\",\"content\":\"hi\"}\n\n"];
        let mut events =
            EventStream::from_bytes(timed(frames, Duration::from_millis(300), true), LIMITS);
        assert_eq!(
            events.next().await.expect("item").expect("event"),
            UpstreamEvent::Content("hi".into())
        );
        let content_at = tokio::time::Instant::now();
        let err = events
            .next()
            .await
            .expect("an item")
            .expect_err("no more content");
        assert_eq!(content_at.elapsed(), LIMITS.idle);
        assert!(err.to_string().contains("since the last"), "{err}");
        assert!(events.next().await.is_none(), "the stream is over");
    }

    async fn all(sse: &'static str) -> Vec<Result<UpstreamEvent, String>> {
        let bytes =
            futures_util::stream::iter([Ok::<_, String>(Bytes::from_static(sse.as_bytes()))]);
        let mut events = EventStream::from_bytes(bytes, timeouts());
        let mut out = Vec::new();
        while let Some(event) = events.next().await {
            out.push(event.map_err(|e| e.to_string()));
        }
        out
    }

    #[tokio::test]
    async fn a_change_of_choice_index_is_announced_once() {
        let got = all(concat!(
            "data: {\"type\":\"Content\",\"content\":\"a\",\"choiceIndex\":0}\n\n",
            "data: {\"type\":\"Content\",\"content\":\"b\",\"choiceIndex\":1}\n\n",
            "data: {\"type\":\"Content\",\"content\":\"c\",\"choiceIndex\":1}\n\n",
            "data: {\"type\":\"FinishMetadata\",\"reason\":\"stop\",\"choiceIndex\":0}\n\n",
            "data: {\"type\":\"QuotaMetadata\"}\n\n",
            "data: end\n\n",
        ))
        .await;
        let got: Vec<UpstreamEvent> = got.into_iter().map(|e| e.expect("no error")).collect();
        assert_eq!(
            got,
            [
                UpstreamEvent::Content("a".into()),
                UpstreamEvent::Choice(1),
                UpstreamEvent::Content("b".into()),
                UpstreamEvent::Content("c".into()),
                UpstreamEvent::Choice(0),
                UpstreamEvent::Finish(crate::upstream::event::FinishReason::Stop),
                UpstreamEvent::Quota(Default::default()),
                UpstreamEvent::End,
            ]
        );
    }

    #[tokio::test]
    async fn an_error_event_ends_the_stream_with_the_upstream_message() {
        let got = all(concat!(
            "data: {\"event_type\":\"data\",\"type\":\"Content\",\"content\":\"Partial \"}\n\n",
            "data: {\"event_type\":\"error\",\"error_message\":\"upstream model failed\"}\n\n",
            "data: end\n\n",
        ))
        .await;
        assert_eq!(
            got,
            [
                Ok(UpstreamEvent::Content("Partial ".into())),
                Err("upstream reported an error: upstream model failed".into()),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn each_content_moves_the_idle_deadline() {
        // Content every 0.8 s for 4 s: never 1 s without content, though longer than any one deadline.
        let frames: &[&str] = &[
            "data: {\"type\":\"ToolCall\",\"id\":\"t\",\"name\":\"f\"}\n\n",
            "data: {\"type\":\"ToolCall\",\"content\":\"{}\"}\n\n",
            "data: {\"type\":\"Content\",\"content\":\"a\"}\n\n",
            "data: {\"type\":\"Content\",\"content\":\"b\"}\n\n",
            "data: {\"type\":\"Content\",\"content\":\"c\"}\n\n",
            "data: end\n\n",
        ];
        let mut events =
            EventStream::from_bytes(timed(frames, Duration::from_millis(800), false), LIMITS);
        let mut got = Vec::new();
        while let Some(event) = events.next().await {
            got.push(event.expect("no timeout"));
        }
        assert_eq!(got.len(), 6);
        assert_eq!(got.last(), Some(&UpstreamEvent::End));
    }
}
