//! Memory per request body (issue 10, item 11): a large body of many tiny messages must cost the serve process a
//! small multiple of its size, not a tree of JSON values thirty times larger. Measured from `/proc/PID/status` of the
//! `jbproxy serve` process while eight such bodies are in flight at once.

use crate::common;

use std::time::Duration;

use common::serve::{KEY, Setup};
use jbproxy::fake_upstream::FakeOptions;
use serde_json::json;

/// A `/proc/PID/status` figure (`VmRSS`, `VmHWM`) in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// About `bytes` of `{"role":"user","content":"hi"}` messages: the worst case for a parser that keeps a tree.
fn tiny_messages(bytes: usize) -> Vec<u8> {
    const MESSAGE: &str = r#"{"role":"user","content":"hi"}"#;
    let mut body = String::from(r#"{"model":"gpt-4o","messages":["#);
    body.push_str(MESSAGE);
    while body.len() + MESSAGE.len() + 3 <= bytes {
        body.push(',');
        body.push_str(MESSAGE);
    }
    body.push_str("]}");
    body.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_large_bodies_of_tiny_messages_cost_a_small_multiple_of_their_size() {
    const BODIES: usize = 8;
    const BODY_BYTES: usize = 3_000_000;
    // The fake keeps no copy of what it receives: its memory is this process's, not the proxy's, but a test that
    // holds 8 × 3 MB of JSON trees would be slow for nothing.
    let options = FakeOptions {
        record_requests: false,
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a"], json!({}), options).await;
    let pid = s.proxy.pid();
    // One small request first, so the allocator and runtime have their working set before the baseline.
    assert_eq!(s.chat(common::serve::user("warm up")).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = status_bytes(pid, "VmRSS");
    let body = bytes::Bytes::from(tiny_messages(BODY_BYTES));
    let sends = (0..BODIES).map(|_| {
        s.client
            .post(s.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .body(body.clone())
            .timeout(Duration::from_secs(120))
            .send()
    });
    for response in futures_util::future::join_all(sends).await {
        let response = response.expect("request");
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
    }
    let peak = status_bytes(pid, "VmHWM");
    let added = peak.saturating_sub(before) as f64 / (BODIES * BODY_BYTES) as f64;
    eprintln!(
        "{BODIES} bodies of {BODY_BYTES} bytes: RSS {before} → peak {peak} bytes, {added:.1} bytes of RSS per body byte"
    );
    // Each 31-byte message used to become a JSON tree of about 900 bytes (≈ 28 bytes per body byte, measured in
    // BENCHMARKS.md); the body, its typed conversation and the upstream body together are a few times the body.
    assert!(
        added < 8.0,
        "the proxy's peak RSS grew by {added:.1} bytes per body byte ({before} → {peak})"
    );
}
