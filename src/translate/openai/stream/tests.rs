//! The chunk translator: events in, `chat.completion.chunk` records out. Shared helpers here, with the several-answers test; the rest by topic.

use serde_json::{Value, json};

use super::*;

fn translator(include_usage: bool) -> ChunkTranslator {
    ChunkTranslator::new(
        "chatcmpl-1".into(),
        "gpt-4o".into(),
        1700000000,
        include_usage,
        42,
    )
}

/// The payloads of the `data:` records in `out`, checking each record is whole; `[DONE]` must be last, if there.
fn payloads(out: &str) -> Vec<String> {
    assert!(out.is_empty() || out.ends_with("\n\n"), "{out:?}");
    let records: Vec<&str> = out.split_terminator("\n\n").collect();
    let done = records.iter().position(|r| *r == "data: [DONE]");
    if let Some(at) = done {
        assert_eq!(at, records.len() - 1, "[DONE] is not last: {out:?}");
    }
    records
        .iter()
        .filter(|r| **r != "data: [DONE]")
        .map(|r| r.strip_prefix("data: ").expect("a data record").to_string())
        .collect()
}

/// Feeds `events`, then `finish`, and parses every chunk.
fn run(include_usage: bool, events: &[UpstreamEvent]) -> Vec<Value> {
    let mut t = translator(include_usage);
    let mut out = String::new();
    for event in events {
        t.push(event, &mut out);
    }
    t.finish(&mut out);
    assert!(out.ends_with("data: [DONE]\n\n"), "{out:?}");
    payloads(&out)
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect()
}

fn deltas(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .filter_map(|c| c["choices"].get(0).map(|ch| ch["delta"].clone()))
        .collect()
}

fn content(s: &str) -> UpstreamEvent {
    UpstreamEvent::Content(s.into())
}

fn start(id: &str, name: &str) -> UpstreamEvent {
    UpstreamEvent::ToolCallStart {
        id: id.into(),
        name: name.into(),
        index: None,
    }
}

fn args(s: &str) -> UpstreamEvent {
    UpstreamEvent::ToolCallArgs {
        args: s.into(),
        index: None,
    }
}

#[test]
fn several_answers_are_choices_each_with_its_finish_reason() {
    let events = [
        UpstreamEvent::Choice(0),
        UpstreamEvent::Content("Red".into()),
        UpstreamEvent::Choice(1),
        UpstreamEvent::Content("Blue".into()),
        UpstreamEvent::Choice(0),
        UpstreamEvent::Content(".".into()),
        UpstreamEvent::Finish(FinishReason::Stop),
        UpstreamEvent::Choice(1),
        UpstreamEvent::Finish(FinishReason::Length),
    ];
    let mut t = ChunkTranslator::new("c".into(), "m".into(), 1, false, 0);
    let mut out = String::new();
    for e in &events {
        t.push(e, &mut out);
    }
    t.finish(&mut out);
    let mut text = [String::new(), String::new()];
    let mut reasons = [None, None];
    let mut roles = 0;
    for data in payloads(&out) {
        let Ok(v) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        let choice = &v["choices"][0];
        let i = choice["index"].as_u64().expect("index") as usize;
        if choice["delta"]["role"] == "assistant" {
            roles += 1;
        }
        text[i].push_str(choice["delta"]["content"].as_str().unwrap_or_default());
        if let Some(reason) = choice["finish_reason"].as_str() {
            reasons[i] = Some(reason.to_string());
        }
    }
    assert_eq!(text, ["Red.", "Blue"]);
    assert_eq!(reasons, [Some("stop".into()), Some("length".into())]);
    assert_eq!(roles, 2, "each answer's first chunk carries the role");
}

mod framing;
mod text;
mod tools;
