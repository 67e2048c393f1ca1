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
            index: None,
        },
        UpstreamEvent::ToolCallArgs {
            args: "{\"city\":".into(),
            index: None,
        },
        UpstreamEvent::ToolCallArgs {
            args: "\"Paris\"}".into(),
            index: None,
        },
        UpstreamEvent::ToolCallStart {
            id: String::new(),
            name: "second".into(),
            index: None,
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
        UpstreamEvent::ToolCallArgs {
            args: "{}".into(),
            index: None,
        },
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

fn start(id: &str, name: &str, index: u32) -> UpstreamEvent {
    UpstreamEvent::ToolCallStart {
        id: id.into(),
        name: name.into(),
        index: Some(index),
    }
}

fn args(args: &str, index: u32) -> UpstreamEvent {
    UpstreamEvent::ToolCallArgs {
        args: args.into(),
        index: Some(index),
    }
}

/// Every block of the stream as (start record, its deltas joined, stop seen), checking blocks never interleave.
fn blocks(r: &[(String, Value)]) -> Vec<(Value, String)> {
    let mut out: Vec<(Value, String)> = Vec::new();
    let mut open: Option<u64> = None;
    for (name, data) in r {
        match name.as_str() {
            "content_block_start" => {
                assert_eq!(open, None, "a block started while another was open");
                open = data["index"].as_u64();
                assert_eq!(open, Some(out.len() as u64), "indices count up");
                out.push((data["content_block"].clone(), String::new()));
            }
            "content_block_delta" => {
                assert_eq!(
                    data["index"].as_u64(),
                    open,
                    "a delta for a block that is not open"
                );
                let delta = &data["delta"];
                let piece = delta["text"].as_str().or(delta["partial_json"].as_str());
                out.last_mut()
                    .expect("a block")
                    .1
                    .push_str(piece.expect("a delta"));
            }
            "content_block_stop" => {
                assert_eq!(data["index"].as_u64(), open);
                open = None;
            }
            _ => {}
        }
    }
    assert_eq!(open, None, "every block was closed");
    out
}

#[test]
fn interleaved_parallel_calls_become_whole_blocks_in_the_order_they_began() {
    // The fixture tests/fixtures/grazie/streams/tool_parallel_interleaved.json, with text around it.
    let r = run(&[
        UpstreamEvent::Content("Checking both.".into()),
        start("call_a", "get_weather", 0),
        start("call_b", "get_time", 1),
        args("{\"city\":", 0),
        args("{\"tz\":", 1),
        args("\"UTC\"}", 1),
        args("\"Paris\"}", 0),
        UpstreamEvent::Content(" Done.".into()),
        UpstreamEvent::Finish(FinishReason::ToolCalls),
    ]);
    let b = blocks(&r);
    assert_eq!(b.len(), 4, "{b:?}");
    assert_eq!(
        b[0],
        (json!({"type": "text", "text": ""}), "Checking both.".into())
    );
    assert_eq!(b[1].0["id"], "call_a");
    assert_eq!(b[1].1, "{\"city\":\"Paris\"}");
    assert_eq!(b[2].0["id"], "call_b");
    assert_eq!(b[2].0["name"], "get_time");
    assert_eq!(b[2].1, "{\"tz\":\"UTC\"}");
    assert_eq!(b[3].1, " Done.");
    assert_eq!(r[r.len() - 2].1["delta"]["stop_reason"], "tool_use");
}

#[test]
fn the_first_call_streams_live() {
    let mut w = EventWriter::new("msg_1".into(), "m".into(), 1);
    let mut out = String::new();
    w.push(&start("call_a", "f", 0), &mut out);
    w.push(&args("{\"a\":", 0), &mut out);
    assert!(
        out.contains("content_block_start") && out.contains("input_json_delta"),
        "{out}"
    );
    out.clear();
    // A second call is held until the end; more of the first still streams.
    w.push(&start("call_b", "g", 1), &mut out);
    w.push(&args("{}", 1), &mut out);
    assert!(out.is_empty(), "{out}");
    w.push(&args("1}", 0), &mut out);
    assert!(out.contains("\"index\":0") && out.contains("1}"), "{out}");
}
