//! Tool calls in chunks: ids, arguments, parallel calls, text around them.

use super::*;

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
