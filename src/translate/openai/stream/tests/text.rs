//! Text answers: the chunk sequence, the role, the finish reason, what produces nothing.

use super::*;

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
