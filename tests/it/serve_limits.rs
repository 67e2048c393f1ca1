//! Connection-level defences over real sockets: slow headers, slow bodies and connection floods cost the server
//! nothing lasting, and the server stays up.

use crate::common;

use std::time::{Duration, Instant};

use common::serve::{KEY, Setup, user};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the peer closes or `limit` passes; returns what arrived and whether the peer closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&buf).into_owned(), true),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
            Err(_) => return (String::from_utf8_lossy(&buf).into_owned(), false),
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let s = Setup::start(&["a"], json!({"client_header_timeout": "300ms"})).await;
    let mut slow = TcpStream::connect(s.proxy.addr).await.expect("connect");
    slow.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let (_, closed) = read_until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(closed, "the slow connection was kept open");
    assert_eq!(s.chat(user("still serving")).await.status(), 200);
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_408() {
    let s = Setup::start(&["a"], json!({"client_body_timeout": "300ms"})).await;
    let mut slow = TcpStream::connect(s.proxy.addr).await.expect("connect");
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\":"
    );
    slow.write_all(head.as_bytes()).await.expect("write");
    let (answer, _) = read_until_closed(&mut slow, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("client_body_timeout"), "{answer}");
    assert!(s.fake.requests().is_empty());
}

#[tokio::test]
async fn connections_past_the_cap_are_refused_and_the_cap_frees_up() {
    let s = Setup::start(&["a"], json!({"max_connections": 2})).await;
    let held_a = TcpStream::connect(s.proxy.addr).await.expect("connect");
    let held_b = TcpStream::connect(s.proxy.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = TcpStream::connect(s.proxy.addr).await.expect("connect");
    extra
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .ok();
    let (answer, closed) = read_until_closed(&mut extra, Duration::from_secs(2)).await;
    assert!(closed && answer.starts_with("HTTP/1.1 503"), "{answer}");
    drop((held_a, held_b));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let health = s
        .client
        .get(s.url("/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(health.status(), 200);
    assert!(s.proxy.logs().contains("max_connections"));
}
