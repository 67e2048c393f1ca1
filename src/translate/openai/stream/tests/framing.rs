//! The stream's records as bytes: the usage chunk, the end, a failure, escaping, the pre-rendered prefix.

use super::*;

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
