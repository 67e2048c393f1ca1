//! `worker_threads`: `serve` spreads client connections over its event loops (a thread each), every loop serves what
//! it is handed, and a SIGTERM lets the streams on every loop finish.

use std::time::Duration;

use crate::common;
use common::serve::{Setup, sse_data, streamed_text};
use jbproxy::fake_upstream::FakeOptions;
use serde_json::json;

/// CPU time (ns) of each of the process's threads whose name starts with `jbproxy-loop-`, by name.
fn loop_cpu(pid: u32) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let name = name.trim();
        if !name.starts_with("jbproxy-loop-") {
            continue;
        }
        let ns = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0);
        out.insert(name.to_string(), ns);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_spread_over_the_loops_and_a_sigterm_lets_every_stream_finish() {
    let mut s = Setup::with_options(
        &["a", "b"],
        json!({"worker_threads": 3, "shutdown_grace": "10s"}),
        FakeOptions {
            content_events: 10,
            event_delay: Duration::from_millis(100),
            ..FakeOptions::default()
        },
    )
    .await;
    assert!(
        s.proxy
            .logs()
            .contains("serving client connections on 3 event loops"),
        "{}",
        s.proxy.logs()
    );
    let before = loop_cpu(s.proxy.pid());
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        ["jbproxy-loop-1", "jbproxy-loop-2"],
        "worker_threads 3: the main loop and two more"
    );
    // Six streams open at once, so six connections: two per loop.
    let streams = s.open_streams(6).await;
    // An idle loop sleeps in epoll and runs no code; relaying two streams costs it far more than 100 µs.
    let pid = s.proxy.pid();
    let served = || {
        let now = loop_cpu(pid);
        before
            .iter()
            .all(|(name, ns)| now.get(name).copied().unwrap_or(0) > ns + 100_000)
    };
    assert!(
        common::eventually_blocking(Duration::from_secs(5), served),
        "a loop served nothing: {before:?} before, {:?} now",
        loop_cpu(pid)
    );
    s.proxy.signal("TERM");
    for (i, stream) in streams.into_iter().enumerate() {
        let body = stream.await.expect("stream task");
        assert!(
            body.ends_with("data: [DONE]\n\n"),
            "stream {i} was cut: {body}"
        );
        assert!(streamed_text(&sse_data(&body)).contains(&format!("stream {i}")));
    }
    let status = s.proxy.wait(Duration::from_secs(10)).expect("exited");
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn one_worker_thread_serves_everything_on_the_main_loop() {
    let s = Setup::with_options(&["a"], json!({"worker_threads": 1}), FakeOptions::default()).await;
    assert!(loop_cpu(s.proxy.pid()).is_empty());
    let response = s.chat(common::serve::user("one loop")).await;
    assert_eq!(response.status(), 200);
}
