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
    let bytes = futures_util::stream::iter([Ok::<_, String>(Bytes::from_static(sse.as_bytes()))]);
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
