use serde_json::Value;

use super::*;

/// `(event name, data)` of every record, checking each is well formed.
fn records(out: &str) -> Vec<(String, Value)> {
    assert!(out.ends_with("\n\n"), "{out:?}");
    out.trim_end()
        .split("\n\n")
        .map(|record| {
            let (event, data) = record.split_once('\n').expect("two lines");
            let name = event.strip_prefix("event: ").expect("event line");
            let data: Value = serde_json::from_str(data.strip_prefix("data: ").expect("data line"))
                .expect("json");
            assert_eq!(data["type"], name, "event name matches the data type");
            (name.to_string(), data)
        })
        .collect()
}

fn run(events: &[UpstreamEvent]) -> Vec<(String, Value)> {
    let mut w = EventWriter::new("msg_1".into(), "claude-sonnet-4-5".into(), 12);
    let mut out = String::new();
    for e in events {
        w.push(e, &mut out);
    }
    w.finish(&mut out);
    records(&out)
}

fn names(records: &[(String, Value)]) -> Vec<&str> {
    records.iter().map(|(n, _)| n.as_str()).collect()
}

#[test]
fn text_answer_has_the_full_event_sequence() {
    let r = run(&[
        UpstreamEvent::Content("Hel".into()),
        UpstreamEvent::Content("lo".into()),
        UpstreamEvent::Finish(FinishReason::Stop),
        UpstreamEvent::End,
    ]);
    assert_eq!(
        names(&r),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &r[0].1["message"];
    assert_eq!(start["id"], "msg_1");
    assert_eq!(start["model"], "claude-sonnet-4-5");
    assert_eq!(start["content"], json!([]));
    assert_eq!(
        start["usage"],
        json!({"input_tokens": 12, "output_tokens": 0})
    );
    assert_eq!(r[2].1["content_block"], json!({"type": "text", "text": ""}));
    assert_eq!(
        r[3].1["delta"],
        json!({"type": "text_delta", "text": "Hel"})
    );
    assert_eq!(r[4].1["index"], 0);
    assert_eq!(r[5].1["index"], 0);
    assert_eq!(r[6].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(r[6].1["delta"]["stop_sequence"], Value::Null);
    assert_eq!(r[6].1["usage"]["output_tokens"], 2);
}

#[test]
fn text_then_tool_use_get_their_own_indices() {
    let r = run(&[
        UpstreamEvent::Content("Let me check.".into()),
        UpstreamEvent::ToolCallStart {
            id: "toolu_9".into(),
            name: "get_weather".into(),
        },
        UpstreamEvent::ToolCallArgs("{\"city\":".into()),
        UpstreamEvent::ToolCallArgs("\"Paris\"}".into()),
        UpstreamEvent::ToolCallStart {
            id: String::new(),
            name: "second".into(),
        },
        UpstreamEvent::Finish(FinishReason::ToolCalls),
    ]);
    assert_eq!(
        names(&r),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "content_block_start",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    assert_eq!(
        r[5].1["content_block"],
        json!({"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}})
    );
    assert_eq!(r[5].1["index"], 1);
    let json: String = r[6..8]
        .iter()
        .map(|(_, d)| {
            assert_eq!(d["index"], 1);
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"]
                .as_str()
                .expect("partial")
                .to_string()
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json).expect("json"),
        json!({"city": "Paris"})
    );
    assert_eq!(r[8].1["index"], 1);
    assert_eq!(r[9].1["index"], 2);
    assert_eq!(
        r[9].1["content_block"]["id"], "toolu_1_1",
        "generated from the message id"
    );
    assert_eq!(r[11].1["delta"]["stop_reason"], "tool_use");
}

#[test]
fn length_maps_to_max_tokens_and_empty_answers_still_close() {
    let r = run(&[
        UpstreamEvent::Content("x".into()),
        UpstreamEvent::Finish(FinishReason::Length),
    ]);
    assert_eq!(r[r.len() - 2].1["delta"]["stop_reason"], "max_tokens");
    let r = run(&[]);
    assert_eq!(
        names(&r),
        ["message_start", "ping", "message_delta", "message_stop"]
    );
    assert_eq!(r[2].1["usage"]["output_tokens"], 0);
}

#[test]
fn quota_skip_unknown_and_stray_arguments_write_nothing() {
    let r = run(&[
        UpstreamEvent::Skip,
        UpstreamEvent::Unknown("ThinkingMetadata".into()),
        UpstreamEvent::ToolCallArgs("{}".into()),
        UpstreamEvent::Quota(Default::default()),
    ]);
    assert_eq!(
        names(&r),
        ["message_start", "ping", "message_delta", "message_stop"]
    );
}

#[test]
fn an_error_ends_the_stream_without_message_stop() {
    let mut w = EventWriter::new("msg_1".into(), "m".into(), 1);
    let mut out = String::new();
    w.push(&UpstreamEvent::Content("part".into()), &mut out);
    w.error("api_error", "the answer was cut", &mut out);
    w.finish(&mut out);
    let r = records(&out);
    assert_eq!(
        names(&r),
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(
        r[4].1,
        json!({"type": "error", "error": {"type": "api_error", "message": "the answer was cut"}})
    );
}

#[test]
fn text_is_escaped_in_json() {
    let r = run(&[UpstreamEvent::Content("line\n\n\"quoted\"".into())]);
    assert_eq!(r[3].1["delta"]["text"], "line\n\n\"quoted\"");
}
