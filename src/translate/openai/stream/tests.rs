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
fn text_answer_chunk_sequence() {
    let chunks = run(
        false,
        &[
            content("Hel"),
            content("lo"),
            UpstreamEvent::Finish(FinishReason::Stop),
        ],
    );
    assert_eq!(chunks.len(), 3);
    assert_eq!(
        chunks[0],
        json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o",
               "choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]})
    );
    assert_eq!(chunks[1]["choices"][0]["delta"], json!({"content":"lo"}));
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], Value::Null);
    assert_eq!(chunks[2]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "stop");
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
}

#[test]
fn role_only_on_first_chunk() {
    let chunks = run(
        false,
        &[content("a"), content("b"), start("t", "f"), args("{}")],
    );
    let with_role = deltas(&chunks)
        .iter()
        .filter(|d| d.get("role").is_some())
        .count();
    assert_eq!(with_role, 1);
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
}

#[test]
fn empty_answer_still_has_role_and_stop() {
    let chunks = run(false, &[]);
    assert_eq!(chunks.len(), 1);
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role":"assistant"})
    );
    assert_eq!(chunks[0]["choices"][0]["finish_reason"], "stop");
}

#[test]
fn tool_call_chunk_sequence() {
    let chunks = run(
        false,
        &[
            start("toolu_01", "get_weather"),
            args("{\"city\":"),
            args("\"Paris\"}"),
            start("toolu_02", "get_time"),
            args("{}"),
            UpstreamEvent::Finish(FinishReason::ToolCalls),
        ],
    );
    let d = deltas(&chunks);
    assert_eq!(
        d[0],
        json!({"role":"assistant","tool_calls":[{"index":0,"id":"toolu_01","type":"function",
               "function":{"name":"get_weather","arguments":""}}]})
    );
    assert_eq!(
        d[1],
        json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]})
    );
    assert_eq!(
        d[2],
        json!({"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]})
    );
    assert_eq!(
        d[3],
        json!({"tool_calls":[{"index":1,"id":"toolu_02","type":"function","function":{"name":"get_time","arguments":""}}]})
    );
    assert_eq!(
        d[4],
        json!({"tool_calls":[{"index":1,"function":{"arguments":"{}"}}]})
    );
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert_eq!(chunks.len(), 6);
}

#[test]
fn v7_calls_get_generated_ids() {
    let chunks = run(false, &[start("", "f"), args("{}"), start("", "g")]);
    let d = deltas(&chunks);
    assert_eq!(d[0]["tool_calls"][0]["id"], "call_0");
    assert_eq!(d[2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(d[2]["tool_calls"][0]["index"], 1);
}

#[test]
fn text_then_tool_then_text() {
    let chunks = run(
        false,
        &[
            content("Let me check."),
            start("t1", "f"),
            args("{}"),
            content("Done."),
            UpstreamEvent::End,
        ],
    );
    let d = deltas(&chunks);
    assert_eq!(d[0], json!({"role":"assistant","content":"Let me check."}));
    assert_eq!(d[1]["tool_calls"][0]["id"], "t1");
    assert_eq!(d[2]["tool_calls"][0]["function"]["arguments"], "{}");
    assert_eq!(d[3], json!({"content":"Done."}));
    // No Finish event, but a tool call was seen.
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[test]
fn no_finish_event_and_no_tools_is_stop() {
    let chunks = run(false, &[content("x")]);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "stop"
    );
}

#[test]
fn finish_reasons_map() {
    for (reason, expected) in [
        (FinishReason::Stop, "stop"),
        (FinishReason::Length, "length"),
        (FinishReason::ToolCalls, "tool_calls"),
    ] {
        let chunks = run(false, &[content("x"), UpstreamEvent::Finish(reason)]);
        assert_eq!(
            chunks.last().unwrap()["choices"][0]["finish_reason"],
            expected
        );
    }
}

#[test]
fn content_after_finish_still_comes_before_the_final_chunk() {
    let chunks = run(
        false,
        &[
            content("a"),
            UpstreamEvent::Finish(FinishReason::Length),
            content("b"),
        ],
    );
    assert_eq!(chunks.len(), 3);
    assert_eq!(chunks[1]["choices"][0]["delta"]["content"], "b");
    assert_eq!(chunks[2]["choices"][0]["finish_reason"], "length");
}

#[test]
fn ignored_events_produce_nothing() {
    let mut t = translator(true);
    let mut out = String::new();
    for event in [
        UpstreamEvent::End,
        UpstreamEvent::Skip,
        UpstreamEvent::Quota(Default::default()),
        UpstreamEvent::Unknown("Reasoning".into()),
        UpstreamEvent::Finish(FinishReason::Stop),
        content(""),
        args("orphan arguments before any call"),
    ] {
        t.push(&event, &mut out);
    }
    assert!(out.is_empty(), "{out:?}");
    assert!(!t.has_output());
}

#[test]
fn has_output_after_content_or_tool_call() {
    let mut t = translator(false);
    let mut out = String::new();
    assert!(!t.has_output());
    t.push(&content("x"), &mut out);
    assert!(t.has_output());

    let mut t = translator(false);
    t.push(&start("t", "f"), &mut out);
    assert!(t.has_output());
}

#[test]
fn usage_chunk_only_when_asked() {
    let without = run(false, &[content("abcdefgh")]);
    assert!(without.iter().all(|c| c.get("usage").is_none()));

    let with = run(
        true,
        &[content("abcdefgh"), start("t", "f"), args("{\"a\":1}")],
    );
    let last = with.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["object"], "chat.completion.chunk");
    assert_eq!(last["id"], "chatcmpl-1");
    // 8 content bytes + 7 argument bytes = 15 bytes → 4 tokens.
    assert_eq!(
        last["usage"],
        json!({"prompt_tokens":42,"completion_tokens":4,"total_tokens":46})
    );
    // The chunk before it carries the finish reason and no usage.
    let before = &with[with.len() - 2];
    assert_eq!(before["choices"][0]["finish_reason"], "tool_calls");
    assert!(before.get("usage").is_none());
}

#[test]
fn finish_twice_appends_nothing_more() {
    let mut t = translator(true);
    let mut out = String::new();
    t.finish(&mut out);
    assert_eq!(payloads(&out).len(), 2);
    let once = out.clone();
    t.finish(&mut out);
    assert_eq!(out, once);
}

#[test]
fn a_failure_is_an_error_record_and_no_done() {
    let mut t = translator(false);
    let mut out = String::new();
    t.push(&content("partial"), &mut out);
    let failure = StreamFailure {
        status: 502,
        kind: "upstream_error",
        code: Some("stream_interrupted"),
        message: "the answer was cut: reset",
    };
    t.fail(&failure, &mut out);
    t.finish(&mut out);
    let records = payloads(&out);
    assert!(!out.contains("[DONE]"), "{out:?}");
    assert_eq!(records.len(), 2, "{out:?}");
    let error: Value = serde_json::from_str(&records[1]).unwrap();
    assert_eq!(
        error,
        json!({"error": {"message": "the answer was cut: reset", "type": "upstream_error",
                         "code": "stream_interrupted", "param": null}})
    );
}

#[test]
fn special_characters_are_escaped() {
    let tricky = "quote \" backslash \\ newline \n tab \t nul \u{0} emoji 🦀 </script>";
    let chunks = run(
        false,
        &[
            content(tricky),
            start("id\"x", "na\\me"),
            args("{\"k\":\"\\n\"}"),
        ],
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], tricky);
    assert_eq!(
        chunks[1]["choices"][0]["delta"]["tool_calls"][0]["id"],
        "id\"x"
    );
    assert_eq!(
        chunks[1]["choices"][0]["delta"]["tool_calls"][0]["function"]["name"],
        "na\\me"
    );
    assert_eq!(
        chunks[2]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
        "{\"k\":\"\\n\"}"
    );
}

/// The pre-rendered prefix path writes exactly what serializing the whole `Chunk` would.
#[test]
fn chunks_are_byte_identical_to_serializing_the_whole_chunk() {
    let mut t = ChunkTranslator::new("chatcmpl-\"x\"".into(), "gpt-4o/é".into(), 7, false, 1);
    let mut out = String::new();
    t.push(
        &UpstreamEvent::Content("a \"quoted\"\n line".into()),
        &mut out,
    );
    t.finish(&mut out);
    let whole = |delta: Delta<'_>, finish_reason| {
        let choices = [Choice {
            index: 0,
            delta,
            finish_reason,
        }];
        serde_json::to_string(&Chunk {
            id: "chatcmpl-\"x\"",
            object: "chat.completion.chunk",
            created: 7,
            model: "gpt-4o/é",
            choices: &choices,
            usage: None,
        })
        .expect("serializes")
    };
    let first = Delta {
        role: Some("assistant"),
        content: Some("a \"quoted\"\n line"),
        ..Delta::default()
    };
    let out = payloads(&out);
    assert_eq!(out[0], whole(first, None));
    assert_eq!(out[1], whole(Delta::default(), Some("stop")));
}

#[test]
fn interleaved_parallel_calls_keep_their_own_index() {
    let events = [
        UpstreamEvent::ToolCallStart {
            id: "call_a".into(),
            name: "get_weather".into(),
            index: Some(0),
        },
        UpstreamEvent::ToolCallStart {
            id: "call_b".into(),
            name: "get_time".into(),
            index: Some(1),
        },
        UpstreamEvent::ToolCallArgs {
            args: "{\"city\":".into(),
            index: Some(0),
        },
        UpstreamEvent::ToolCallArgs {
            args: "{\"tz\":\"UTC\"}".into(),
            index: Some(1),
        },
        UpstreamEvent::ToolCallArgs {
            args: "\"Paris\"}".into(),
            index: Some(0),
        },
        // A repeated start of call 0 does not open a third call.
        UpstreamEvent::ToolCallStart {
            id: "call_a".into(),
            name: "get_weather".into(),
            index: Some(0),
        },
    ];
    let mut t = ChunkTranslator::new("c".into(), "m".into(), 1, false, 0);
    let mut out = String::new();
    for e in &events {
        t.push(e, &mut out);
    }
    t.finish(&mut out);
    let mut arguments = [String::new(), String::new()];
    let mut ids = Vec::new();
    for data in payloads(&out) {
        let Ok(v) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        for call in v["choices"][0]["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = call["index"].as_u64().expect("index") as usize;
            if let Some(id) = call["id"].as_str() {
                ids.push((i, id.to_string()));
            }
            arguments[i].push_str(call["function"]["arguments"].as_str().unwrap_or_default());
        }
    }
    assert_eq!(ids, [(0, "call_a".to_string()), (1, "call_b".to_string())]);
    assert_eq!(arguments, ["{\"city\":\"Paris\"}", "{\"tz\":\"UTC\"}"]);
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
