//! Connection-level defences over real sockets: slow headers, slow bodies and connection floods cost the server
//! nothing lasting, and the server stays up.

use crate::common;
use common::{eventually, read_until_closed};

use std::time::Duration;

use common::serve::{KEY, Setup, user};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

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
    // Once the server has accepted both, the next connection is refused.
    let mut answer = String::new();
    let refused = eventually(Duration::from_secs(5), async || {
        let mut extra = TcpStream::connect(s.proxy.addr).await.expect("connect");
        extra
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok();
        let (got, closed) = read_until_closed(&mut extra, Duration::from_secs(2)).await;
        answer = got;
        closed && answer.starts_with("HTTP/1.1 503")
    })
    .await;
    assert!(refused, "{answer}");
    drop((held_a, held_b));
    let freed = eventually(Duration::from_secs(5), async || {
        let health = s.client.get(s.url("/health")).send().await;
        health.is_ok_and(|r| r.status() == 200)
    })
    .await;
    assert!(freed, "the cap did not free up:\n{}", s.proxy.logs());
    let logged = eventually(Duration::from_secs(5), async || {
        s.proxy.logs().contains("max_connections")
    })
    .await;
    assert!(logged, "{}", s.proxy.logs());
}
