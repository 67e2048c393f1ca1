//! The event sequence of streamed answers: text, calls of each kind, the token limit, a cut stream.

use serde_json::{Value, json};

use super::*;
use crate::translate::responses::response::tests::envelope;
use crate::translate::responses::{ClientTool, ToolNames};
use crate::upstream::event::FinishReason;

/// `(type, data)` of every record in `out`; each is whole, named after its type, and numbered in order.
fn events(out: &str) -> Vec<(String, Value)> {
    assert!(out.ends_with("\n\n"), "{out:?}");
    let parsed: Vec<(String, Value)> = out
        .split_terminator("\n\n")
        .map(|record| {
            let (event, data) = record.split_once('\n').expect("two lines");
            let name = event.strip_prefix("event: ").expect("an event line");
            let data: Value =
                serde_json::from_str(data.strip_prefix("data: ").expect("a data line")).unwrap();
            assert_eq!(data["type"], name, "{record}");
            (name.to_string(), data)
        })
        .collect();
    for (i, (_, data)) in parsed.iter().enumerate() {
        assert_eq!(data["sequence_number"], i as u64, "{data}");
    }
    parsed
}

fn kinds(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

fn run(names: ToolNames, input: &[UpstreamEvent]) -> Vec<(String, Value)> {
    let mut w = EventWriter::new(envelope(names));
    let mut out = String::new();
    for event in input {
        w.push(event, &mut out);
    }
    w.finish(&mut out);
    let len = out.len();
    w.finish(&mut out);
    assert_eq!(out.len(), len, "a second finish writes nothing");
    events(&out)
}

fn start(id: &str, name: &str) -> UpstreamEvent {
    UpstreamEvent::ToolCallStart {
        id: id.into(),
        name: name.into(),
        index: None,
    }
}

fn args(args: &str) -> UpstreamEvent {
    UpstreamEvent::ToolCallArgs {
        args: args.into(),
        index: None,
    }
}

fn content(text: &str) -> UpstreamEvent {
    UpstreamEvent::Content(text.into())
}

#[test]
fn text_answer_sequence() {
    let e = run(
        ToolNames::default(),
        &[
            content("Hel"),
            content("lo"),
            UpstreamEvent::Finish(FinishReason::Stop),
            UpstreamEvent::End,
        ],
    );
    assert_eq!(
        kinds(&e),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let created = &e[0].1["response"];
    assert_eq!(created["status"], "in_progress");
    assert_eq!(created["output"], json!([]));
    assert!(created.get("usage").is_none(), "{created}");
    assert_eq!(
        e[2].1["item"],
        json!({"id": "msg_abc_0", "type": "message", "role": "assistant", "status": "in_progress", "content": []})
    );
    assert_eq!(
        e[3].1["part"],
        json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []})
    );
    assert_eq!(
        e[4].1,
        json!({"type": "response.output_text.delta", "item_id": "msg_abc_0", "output_index": 0,
            "content_index": 0, "delta": "Hel", "logprobs": [], "sequence_number": 4})
    );
    assert_eq!(e[6].1["text"], "Hello");
    assert_eq!(e[8].1["item"]["status"], "completed");
    assert_eq!(e[8].1["item"]["content"][0]["text"], "Hello");
    let completed = &e[9].1["response"];
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"][0], e[8].1["item"]);
    assert_eq!(completed["usage"]["output_tokens"], 2);
    assert_eq!(completed["usage"]["input_tokens"], 10);
    assert_eq!(completed["id"], created["id"]);
}

#[test]
fn function_call_sequence_with_namespace() {
    let mut names = ToolNames::default();
    names.insert(
        "mcp__probe__probe_nonce".into(),
        ClientTool {
            name: "probe_nonce".into(),
            namespace: Some("mcp__probe".into()),
            custom: false,
        },
    );
    let e = run(
        names,
        &[
            content("Let me check."),
            start("toolu_1", "mcp__probe__probe_nonce"),
            args("{\"input\":"),
            args("\"x\"}"),
            UpstreamEvent::Finish(FinishReason::ToolCalls),
        ],
    );
    assert_eq!(
        kinds(&e)[8..],
        [
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(
        kinds(&e)[7],
        "response.output_item.done",
        "the message closes before the call starts"
    );
    assert_eq!(
        e[8].1["item"],
        json!({"id": "fc_abc_0", "type": "function_call", "status": "in_progress", "call_id": "toolu_1",
            "name": "probe_nonce", "namespace": "mcp__probe", "arguments": ""})
    );
    assert_eq!(e[8].1["output_index"], 1);
    assert_eq!(e[9].1["delta"], "{\"input\":");
    assert_eq!(e[9].1["item_id"], "fc_abc_0");
    assert_eq!(e[11].1["arguments"], "{\"input\":\"x\"}");
    assert_eq!(e[11].1["name"], "probe_nonce");
    let done = &e[12].1["item"];
    assert_eq!(done["status"], "completed");
    assert_eq!(done["arguments"], "{\"input\":\"x\"}");
    assert_eq!(e[13].1["response"]["output"].as_array().unwrap().len(), 2);
}

#[test]
fn custom_tool_call_input_is_sent_whole() {
    let mut names = ToolNames::default();
    names.insert(
        "exec".into(),
        ClientTool {
            name: "exec".into(),
            namespace: None,
            custom: true,
        },
    );
    let e = run(names, &[start("", "exec"), args("{\"input\":\"ls\\n\"}")]);
    assert_eq!(
        kinds(&e)[2..],
        [
            "response.output_item.added",
            "response.custom_tool_call_input.delta",
            "response.custom_tool_call_input.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(e[2].1["item"]["type"], "custom_tool_call");
    assert_eq!(e[2].1["item"]["input"], "");
    assert_eq!(e[3].1["delta"], "ls\n");
    assert_eq!(e[4].1["input"], "ls\n");
    let item = &e[5].1["item"];
    assert_eq!(item["input"], "ls\n");
    assert_eq!(item["name"], "exec");
    assert!(item.get("namespace").is_none(), "{item}");
    assert_eq!(item["call_id"], "call_abc_0");
    assert_eq!(item["id"], "ctc_abc_0");
}

#[test]
fn the_token_limit_ends_with_response_incomplete() {
    let e = run(
        ToolNames::default(),
        &[content("Once"), UpstreamEvent::Finish(FinishReason::Length)],
    );
    let (last, data) = e.last().unwrap();
    assert_eq!(last, "response.incomplete");
    assert_eq!(data["response"]["status"], "incomplete");
    assert_eq!(
        data["response"]["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(e[e.len() - 2].1["item"]["status"], "incomplete");
}

#[test]
fn a_cut_stream_fails_and_never_completes() {
    let mut w = EventWriter::new(envelope(ToolNames::default()));
    let mut out = String::new();
    w.push(&content("partial"), &mut out);
    let failure = StreamFailure {
        status: 502,
        kind: "upstream_error",
        code: Some("stream_interrupted"),
        message: "the answer was cut: connection reset",
    };
    w.fail(&failure, &mut out);
    w.finish(&mut out);
    w.push(&content("more"), &mut out);
    let e = events(&out);
    assert_eq!(
        kinds(&e)[4..],
        ["response.output_text.delta", "response.failed", "error"],
        "no done events for the cut item, nothing after the error"
    );
    let failed = &e[5].1["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error"],
        json!({"code": "server_error", "message": "the answer was cut: connection reset"})
    );
    assert_eq!(failed["output"][0]["status"], "incomplete");
    assert_eq!(failed["output"][0]["content"][0]["text"], "partial");
    let error = &e[6].1;
    assert_eq!(error["code"], "stream_interrupted");
    assert_eq!(error["message"], "the answer was cut: connection reset");
    assert_eq!(error["param"], Value::Null);
    assert_eq!(error["error"]["type"], "upstream_error");
    assert!(!out.contains("response.completed"));
}

#[test]
fn orphan_arguments_and_metadata_write_nothing_after_the_start() {
    let e = run(
        ToolNames::default(),
        &[
            args("{}"),
            UpstreamEvent::Quota(Default::default()),
            UpstreamEvent::Unknown("X".into()),
            content(""),
        ],
    );
    assert_eq!(
        kinds(&e),
        [
            "response.created",
            "response.in_progress",
            "response.completed"
        ]
    );
    assert_eq!(e[2].1["response"]["output"], json!([]));
}
