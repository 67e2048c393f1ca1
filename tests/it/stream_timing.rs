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

/// An upstream that answers every chat with its whole SSE answer in one write (`content-length`, keep-alive):
/// the proxy then holds all the events at once.
async fn all_at_once_upstream(content_events: usize, chunked: bool) -> std::net::SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut body: String = (0..content_events)
        .map(|i| format!("data: {{\"type\":\"Content\",\"content\":\"w{i} \"}}\n\n"))
        .collect();
    body.push_str("data: end\n\n");
    let answer = if chunked {
        // Each event its own HTTP chunk, as a streaming server writes them, all in one write.
        let chunks: String = body
            .split_inclusive("\n\n")
            .map(|event| format!("{:x}\r\n{event}\r\n", event.len()))
            .collect();
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{chunks}0\r\n\r\n"
        )
    } else {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    // One request: its head, then `content-length` bytes of body.
                    let wanted = loop {
                        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                            let length: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                            break end + 4 + length;
                        }
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    while buf.len() < wanted {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..wanted);
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// The other side of the rule above (issue 16): events the proxy has already received leave together, in one
/// write, instead of a write (and a chunk for the client to read) each. Before, these 20 events took 20 chunks.
#[tokio::test]
async fn events_that_arrived_together_are_forwarded_together() {
    arrived_together_leave_together(false).await;
}

#[tokio::test]
async fn chunked_events_that_arrived_together_are_forwarded_together() {
    arrived_together_leave_together(true).await;
}

async fn arrived_together_leave_together(chunked: bool) {
    const EVENTS: usize = 20;
    let addr = all_at_once_upstream(EVENTS, chunked).await;
    let config = json!({
        "jetbrains_tokens": common::serve::token_entries(&["a"]),
        "bearer_token": common::serve::KEY,
        "upstream_url": format!("http://{addr}"),
        "health_check_mode": "off",
        "watch_config": false,
        "server_host": "127.0.0.1",
    });
    let proxy = common::proxy::Proxy::start(&config, &[]);
    let mut response = reqwest::Client::new()
        .post(proxy.url("/v1/chat/completions"))
        .bearer_auth(common::serve::KEY)
        .json(&streaming("twenty words"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "{}", proxy.logs());
    let mut chunks: Vec<(usize, String)> = Vec::new();
    while let Some(bytes) = response.chunk().await.expect("body chunk") {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        chunks.push((content_deltas(&text), text));
    }
    let body: String = chunks.iter().map(|(_, t)| t.as_str()).collect();
    assert!(body.trim_end().ends_with("data: [DONE]"), "{body}");
    let deltas: usize = chunks.iter().map(|(n, _)| n).sum();
    assert_eq!(deltas, EVENTS, "every content event arrives: {body}");
    let with_content = chunks.iter().filter(|(n, _)| *n > 0).count();
    assert!(
        with_content <= 2,
        "{EVENTS} events received at once went out in {with_content} chunks: {chunks:?}"
    );
}
