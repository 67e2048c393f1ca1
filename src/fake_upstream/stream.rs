//! Streaming a reply body frame by frame with the timing a behaviour asks for, and counting live streams.
//!
//! Each frame is its own body chunk, so a test can time events one by one. The generating state lives inside the
//! body stream: when the client goes away hyper drops the body, which ends generation and releases the guard.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

/// Counts one live chat response in `FakeUpstream::active_streams` for as long as it exists.
pub(super) struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    pub fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(Arc::clone(counter))
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// When frames go out.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Timing {
    /// Before the first frame (headers are already sent).
    pub first_delay: Duration,
    /// Before every later frame.
    pub between: Duration,
    /// Send this many frames, then break the connection instead of finishing the body.
    pub cut_after: Option<usize>,
    /// Send this many frames, then a keep-alive frame (no content) every so often instead of the rest, forever.
    pub keep_alive: Option<(usize, Duration)>,
}

/// What an upstream might send to keep a stream open: events that carry no content, in turn. The quota report comes
/// first: the proxy passes it on to its relay (the others it skips), which must not take it for an answer.
const KEEP_ALIVE_FRAMES: [&str; 4] = [
    "data: {\"type\":\"QuotaMetadata\",\"updated\":{\"current\":{\"amount\":\"0\"},\"maximum\":{\"amount\":\"1000000\"}},\"spent\":{\"amount\":\"0\"}}\n\n",
    "data: {\"type\":\"Ping\"}\n\n",
    "data: {\"type\":\"Content\",\"content\":\"\"}\n\n",
    "data: {\"type\":\"ExecutionMetadata\"}\n\n",
];

struct Feed {
    frames: std::vec::IntoIter<Bytes>,
    sent: usize,
    timing: Timing,
    cancel: CancellationToken,
    done: bool,
    _guard: Option<ActiveGuard>,
}

/// A body that yields `frames` per `timing`; shutdown of the fake breaks it off.
pub(super) fn timed_body(
    frames: Vec<Bytes>,
    timing: Timing,
    guard: Option<ActiveGuard>,
    cancel: CancellationToken,
) -> Body {
    let feed = Feed {
        frames: frames.into_iter(),
        sent: 0,
        timing,
        cancel,
        done: false,
        _guard: guard,
    };
    Body::from_stream(futures_util::stream::unfold(feed, |mut feed| async move {
        if feed.done {
            return None;
        }
        if feed.timing.cut_after == Some(feed.sent) {
            // An error from the body stream makes hyper abort the connection without finishing the chunked body:
            // the client sees a broken stream, as when the real service drops mid-answer.
            // Yield once first: hyper flushes what it has buffered (headers, earlier frames) when the body is
            // pending, and would otherwise discard it along with the connection.
            tokio::task::yield_now().await;
            feed.done = true;
            return Some((Err(broken("fake upstream cut the stream")), feed));
        }
        let (frame, delay) = match feed.timing.keep_alive {
            Some((after, every)) if feed.sent >= after => {
                let ping = KEEP_ALIVE_FRAMES[(feed.sent - after) % KEEP_ALIVE_FRAMES.len()];
                (Bytes::from_static(ping.as_bytes()), every)
            }
            _ => {
                let frame = feed.frames.next()?;
                let delay = if feed.sent == 0 {
                    feed.timing.first_delay
                } else {
                    feed.timing.between
                };
                (frame, delay)
            }
        };
        if !delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = feed.cancel.cancelled() => {
                    feed.done = true;
                    return Some((Err(broken("fake upstream shut down")), feed));
                }
            }
        }
        feed.sent += 1;
        Some((Ok(frame), feed))
    }))
}

fn broken(why: &'static str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, why)
}
