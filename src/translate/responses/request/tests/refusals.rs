//! The Responses request: server-side state refused, input errors naming their item, borrowing from the body.

use super::*;

#[test]
fn server_side_state_is_refused_with_what_to_send_instead() {
    for (extra, param, needle) in [
        (json!({"store": true}), "store", "\"store\": false"),
        (
            json!({"previous_response_id": "resp_1"}),
            "previous_response_id",
            "whole conversation",
        ),
        (
            json!({"conversation": "conv_1"}),
            "conversation",
            "no conversations",
        ),
        (json!({"background": true}), "background", "background"),
        (
            json!({"prompt": {"id": "pmpt_1"}}),
            "prompt",
            "instructions",
        ),
    ] {
        let mut body = json!({"model": "m", "input": "x"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let err = error(body);
        assert_error(&err, param, needle);
        assert!(err.message.contains("jbproxy"), "{err}");
    }
    // What Codex sends, and explicit nulls, are fine.
    parse_ok(
        json!({"model": "m", "input": "x", "store": false, "previous_response_id": null,
        "background": false, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k",
        "client_metadata": {"a": "b"}, "metadata": {"k": "v"}, "user": "u", "truncation": "auto"}),
    );
}

#[test]
fn input_errors_name_the_item() {
    let cases = [
        (json!({"model": "m"}), "input", "is required"),
        (with_input(json!([])), "input", "no message"),
        (
            json!({"model": "m", "input": [], "instructions": "x"}),
            "input",
            "no message",
        ),
        (with_input(json!(["hi"])), "input[0]", "must be an object"),
        (
            with_input(json!([{"content": "x"}])),
            "input[0].type",
            "is required",
        ),
        (
            with_input(json!([{"type": "item_reference", "id": "msg_1"}])),
            "input[0].type",
            "keeps no state",
        ),
        (
            with_input(json!([{"type": "computer_call_output", "call_id": "c"}])),
            "input[0].type",
            "unsupported input item type",
        ),
        (
            with_input(json!([{"role": "bot", "content": "x"}])),
            "input[0].role",
            "\"bot\"",
        ),
        (
            with_input(json!([{"type": "message", "content": "x"}])),
            "input[0].role",
            "is required",
        ),
        (
            with_input(json!([{"role": "user"}])),
            "input[0].content",
            "is required",
        ),
        (
            with_input(json!([{"role": "user", "content": []}])),
            "input[0].content",
            "empty",
        ),
        (
            with_input(
                json!([{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]),
            ),
            "input[0].content[0].type",
            "file inputs",
        ),
        (
            with_input(
                json!([{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]),
            ),
            "input[0].content[0].file_id",
            "inline",
        ),
        (
            with_input(
                json!([{"role": "user", "content": [{"type": "input_image", "image_url": "https://x/a.png"}]}]),
            ),
            "input[0].content[0].image_url",
            "remote image URLs",
        ),
        (
            with_input(
                json!([{"role": "system", "content": [{"type": "input_image", "image_url": "x"}]}]),
            ),
            "input[0].content[0].type",
            "\"input_text\"",
        ),
        (
            with_input(json!([{"type": "function_call", "name": "f"}])),
            "input[0].call_id",
            "is required",
        ),
        (
            with_input(json!([{"type": "function_call", "call_id": "c"}])),
            "input[0].name",
            "is required",
        ),
        (
            with_input(json!([{"type": "custom_tool_call", "call_id": "c", "name": "f"}])),
            "input[0].input",
            "is required",
        ),
        (
            with_input(json!([{"type": "function_call_output", "call_id": "c"}])),
            "input[0].output",
            "is required",
        ),
        (
            with_input(
                json!([{"type": "function_call_output", "call_id": "c", "output": [{"type": "input_file"}]}]),
            ),
            "input[0].output[0].type",
            "file inputs",
        ),
        (
            with_input(json!([{"type": "additional_tools"}])),
            "input[0].tools",
            "is required",
        ),
        (
            with_input(json!([{"role": "user", "content": [{"type": "input_text", "text": 5}]}])),
            "input[0].content[0].text",
            "string",
        ),
    ];
    for (body, param, needle) in cases {
        let err = error(body.clone());
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {err}");
        assert!(
            err.message.contains(needle),
            "{body}: lacks {needle:?}: {err}"
        );
    }
}

#[test]
fn an_output_answering_no_call_is_named_by_its_item() {
    let req = parse_ok(with_input(json!([
        {"role": "user", "content": "x"},
        {"type": "function_call_output", "call_id": "nope", "output": "r"}
    ])));
    let err = build(
        &req.conversation,
        "p",
        &Capabilities::all(),
        UpstreamApi::V8,
    )
    .unwrap_err();
    assert_error(&err, "input[1].call_id", "matches no tool call");
}

#[test]
fn text_borrows_from_the_body() {
    let req =
        ResponsesRequest::parse(br#"{"model":"m","input":[{"role":"user","content":"plain"}]}"#)
            .unwrap();
    match &req.conversation.turns[0].parts[0].kind {
        PartKind::Text(text) => assert!(matches!(text, Cow::Borrowed("plain"))),
        other => panic!("{other:?}"),
    }
}
