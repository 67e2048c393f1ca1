//! Streaming is not batched: each upstream event reaches the client on its own, as soon as it arrives, without
//! waiting for the next one (issue 5). A fake pauses between events and the client timestamps every chunk; the
//! assertions are about spread and grouping, never about absolute speed.

use crate::common;

use std::time::{Duration, Instant};

use common::serve::{Setup, sse_data, streaming};
use jbproxy::fake_upstream::FakeOptions;
use serde_json::{Value, json};

const EVENT_DELAY: Duration = Duration::from_millis(300);
const CONTENT_EVENTS: usize = 4;

/// The number of `delta.content` pieces in one received chunk of the SSE body.
fn content_deltas(chunk: &str) -> usize {
    sse_data(chunk)
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|v| v["choices"][0]["delta"]["content"].is_string())
        .count()
}

#[tokio::test]
async fn each_upstream_event_is_forwarded_without_waiting_for_the_next() {
    let options = FakeOptions {
        content_events: CONTENT_EVENTS,
        event_delay: EVENT_DELAY,
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a"], json!({}), options).await;
    let mut response = s
        .chat(streaming("one two three four five six seven eight"))
        .await;
    assert_eq!(response.status(), 200);

    // (arrival time, content deltas in the chunk, the chunk) for every chunk the client reads.
    let mut chunks: Vec<(Instant, usize, String)> = Vec::new();
    while let Some(bytes) = response.chunk().await.expect("body chunk") {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        chunks.push((Instant::now(), content_deltas(&text), text));
    }
    let body: String = chunks.iter().map(|(_, _, t)| t.as_str()).collect();
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");

    let content: Vec<&(Instant, usize, String)> =
        chunks.iter().filter(|(_, n, _)| *n > 0).collect();
    let deltas: usize = content.iter().map(|(_, n, _)| n).sum();
    assert_eq!(
        deltas, CONTENT_EVENTS,
        "every content event arrives: {body}"
    );
    for (_, n, text) in &content {
        assert_eq!(
            *n, 1,
            "a chunk carried {n} content deltas, so events were batched: {text:?}"
        );
    }
    // Events leave the fake EVENT_DELAY apart; forwarded one by one, the first and last content chunk are
    // (CONTENT_EVENTS - 1) delays apart. Batching until the end would put them together.
    let (first, last) = (content[0].0, content[content.len() - 1].0);
    let spread = last.duration_since(first);
    assert!(
        spread >= EVENT_DELAY * 2,
        "content chunks arrived within {spread:?}, expected them spread over at least {:?}",
        EVENT_DELAY * 2
    );
}
