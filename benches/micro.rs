//! Micro-benchmarks (divan) of the proxy's hot pure functions: request mapping, SSE event parsing, chunk
//! translation, token selection and the status page's traffic recording. Run with `cargo bench --bench micro`; not part of `cargo test`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use divan::{Bencher, black_box};
use jbproxy::config::{Config, Env, Overrides, UpstreamApi};
use jbproxy::fake_upstream::mint_jwt;
use jbproxy::pool::{Pool, Tried};
use jbproxy::profiles::Capabilities;
use jbproxy::translate::grazie;
use jbproxy::translate::openai::request::ChatRequest;
use jbproxy::translate::openai::stream::ChunkTranslator;
use jbproxy::upstream::event::{UpstreamEvent, parse_data, parse_data_into};

fn main() {
    divan::main();
}

/// The benchmark's own request: one short user message, as the load generator sends it.
const SHORT_CHAT: &str = r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"Say hello to the benchmark."}]}"#;

/// A longer conversation with a system prompt, a tool and earlier turns: the shape of an agent's request.
fn agent_chat() -> String {
    let mut messages = vec![
        serde_json::json!({"role": "system", "content": "You are a careful assistant. ".repeat(20)}),
    ];
    for i in 0..8 {
        messages.push(serde_json::json!({"role": "user", "content": format!("Question {i}: {}", "why? ".repeat(40))}));
        messages.push(serde_json::json!({"role": "assistant", "content": format!("Answer {i}: {}", "because. ".repeat(40))}));
    }
    messages.push(serde_json::json!({"role": "user", "content": "And finally?"}));
    serde_json::json!({
        "model": "gpt-4o",
        "messages": messages,
        "tools": [{"type": "function", "function": {"name": "search", "description": "Searches the web",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}}],
    })
    .to_string()
}

#[divan::bench(name = "grazie::build (1 message)")]
fn build_short(bencher: Bencher) {
    let req = ChatRequest::parse(SHORT_CHAT.as_bytes()).unwrap();
    bencher.bench_local(|| {
        grazie::build(
            black_box(&req.conversation),
            "openai-gpt-4o",
            &Capabilities::all(),
            UpstreamApi::V8,
        )
        .unwrap()
    });
}

#[divan::bench(name = "grazie::build (18 messages + tool)")]
fn build_agent(bencher: Bencher) {
    let body = agent_chat();
    let req = ChatRequest::parse(body.as_bytes()).unwrap();
    bencher.bench_local(|| {
        grazie::build(
            black_box(&req.conversation),
            "openai-gpt-4o",
            &Capabilities::all(),
            UpstreamApi::V8,
        )
        .unwrap()
    });
}

#[divan::bench(name = "ChatRequest::parse + grazie::build (1 message)")]
fn parse_and_build_short(bencher: Bencher) {
    bencher.bench_local(|| {
        let req = ChatRequest::parse(black_box(SHORT_CHAT.as_bytes())).unwrap();
        grazie::build(
            &req.conversation,
            "openai-gpt-4o",
            &Capabilities::all(),
            UpstreamApi::V8,
        )
        .unwrap()
    });
}

const CONTENT_EVENT: &str = r#"{"type":"Content","content":"Echo: Say hello to "}"#;
const QUOTA_EVENT: &str = r#"{"type":"QuotaMetadata","updated":{"current":{"amount":"1234.5"},"maximum":{"amount":"300000"},"until":1767225600000},"spent":{"amount":"1.0"}}"#;

#[divan::bench(name = "events::parse_data (Content)")]
fn parse_content(bencher: Bencher) {
    bencher.bench_local(|| parse_data(black_box(CONTENT_EVENT)).unwrap());
}

#[divan::bench(name = "events::parse_data_into (Content, reused Vec)")]
fn parse_content_into(bencher: Bencher) {
    let mut out = Vec::with_capacity(2);
    bencher.bench_local(|| {
        out.clear();
        parse_data_into(black_box(CONTENT_EVENT), &mut out).unwrap();
    });
}

#[divan::bench(name = "events::parse_data (QuotaMetadata)")]
fn parse_quota(bencher: Bencher) {
    bencher.bench_local(|| parse_data(black_box(QUOTA_EVENT)).unwrap());
}

#[divan::bench(name = "ChunkTranslator::push (one content delta)")]
fn push_content(bencher: Bencher) {
    let event = UpstreamEvent::Content("Echo: Say hello to ".into());
    let mut translator = ChunkTranslator::new(
        "chatcmpl-abcdefghijklmnopqrstuvwx".into(),
        "gpt-4o".into(),
        1,
        false,
        10,
    );
    let mut out = String::with_capacity(512);
    bencher.bench_local(|| {
        out.clear();
        translator.push(black_box(&event), &mut out);
    });
}

#[divan::bench(name = "ChunkTranslator: whole answer (20 deltas + finish)")]
fn translate_answer(bencher: Bencher) {
    let events: Vec<UpstreamEvent> = (0..20)
        .map(|i| UpstreamEvent::Content(format!("piece {i} of the answer ")))
        .collect();
    bencher.bench_local(|| {
        let mut translator = ChunkTranslator::new(
            "chatcmpl-abcdefghijklmnopqrstuvwx".into(),
            "gpt-4o".into(),
            1,
            true,
            10,
        );
        let mut out = String::with_capacity(512);
        for event in &events {
            translator.push(event, &mut out);
        }
        translator.finish(&mut out);
        out
    });
}

/// A loaded config with `n` fake tokens, as `jbproxy serve` would build it.
fn config_with(n: usize) -> Config {
    let tokens: Vec<String> = (0..n)
        .map(|i| mint_jwt(&format!("bench-{i}"), Duration::from_secs(3600)))
        .collect();
    jbproxy::config::load(
        &Overrides {
            jwt_tokens: Some(tokens.join(",")),
            ..Overrides::default()
        },
        &Env::default(),
    )
    .unwrap()
}

#[divan::bench(name = "Pool::pick + drop (round robin)", args = [4, 64])]
fn pick(bencher: Bencher, tokens: usize) {
    let pool = Arc::new(Pool::new(&config_with(tokens), None));
    let tried = Tried::default();
    bencher.bench_local(|| drop(pool.pick(black_box(&tried)).unwrap()));
}

/// What the status page's traffic samples cost a request: one answered request with its model, plus its latency.
#[divan::bench(name = "traffic: record a request + its latency")]
fn traffic_record(bencher: Bencher) {
    bencher.bench_local(|| {
        jbproxy::traffic::record_request(black_box(200), black_box("gpt-4o"));
        jbproxy::traffic::record_latency(black_box(Duration::from_millis(420)));
    });
}
