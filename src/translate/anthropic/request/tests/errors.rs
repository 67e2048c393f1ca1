//! Refusals, named by the Anthropic path of what was wrong.

use super::*;

#[test]
fn errors_from_the_shared_mapping_name_anthropic_fields() {
    // The image's media type is checked by the shared mapping, and reported at the Anthropic block.
    let err = failure(json!({"model": "m", "system": "s", "messages": [
        {"role": "user", "content": "first"},
        {"role": "user", "content": [{"type": "text", "text": "see"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/tiff", "data": PNG}}]}
    ]}));
    assert_eq!(err.param.as_deref(), Some("messages[1].content[1].source"));
    assert!(
        err.message
            .starts_with("messages[1].content[1].source: unsupported image type")
    );

    let err = failure(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}}]}]}),
    );
    assert_eq!(
        err.param.as_deref(),
        Some("messages[0].content[0].source.url")
    );
    // In Anthropic's terms: a base64 source, not OpenAI's data URL.
    assert!(
        err.message.contains("not fetched") && err.message.contains("base64 source"),
        "{}",
        err.message
    );
    assert!(!err.message.contains("data URL"), "{}", err.message);

    let err = failure(json!({"model": "m", "messages": [
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "nope", "content": "x"}]}]}));
    assert_eq!(
        err.param.as_deref(),
        Some("messages[0].content[0].tool_use_id")
    );

    let err = failure(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"description": "no name"}]}),
    );
    assert_eq!(err.param.as_deref(), Some("tools[0].name"));

    let err = failure(
        json!({"model": "m", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "f", "input_schema": "not a schema"}]}),
    );
    assert_eq!(err.param.as_deref(), Some("tools[0].input_schema"));
}

#[test]
fn malformed_requests_are_refused_with_their_path() {
    for (body, param) in [
        (json!({"model": "m", "messages": []}), "messages"),
        (json!({"model": "m", "messages": ["hi"]}), "messages[0]"),
        (
            json!({"model": "m", "messages": [{"content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "messages": [{"role": "bot", "content": "x"}]}),
            "messages[0].role",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user"}]}),
            "messages[0].content",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": []}]}),
            "messages[0].content",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": 5}]}),
            "messages[0].content",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "document"}]}]}),
            "messages[0].content[0].type",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text"}]}]}),
            "messages[0].content[0].text",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image"}]}]}),
            "messages[0].content[0].source",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "f"}]}]}),
            "messages[0].content[0].id",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "content": [
            {"type": "tool_use", "id": "a", "name": "f", "input": [1]}]}]}),
            "messages[0].content[0].input",
        ),
        (
            json!({"model": "m", "system": 3, "messages": [{"role": "user", "content": "x"}]}),
            "system",
        ),
        (
            json!({"model": "m", "system": [{"type": "image"}], "messages": [{"role": "user", "content": "x"}]}),
            "system[0].type",
        ),
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}),
            "messages[0].content",
        ),
    ] {
        let err = failure(body.clone());
        assert_eq!(err.param.as_deref(), Some(param), "{body}: {}", err.message);
        assert!(err.message.starts_with(param), "{}", err.message);
    }
    assert!(MessagesRequest::parse(br#"{"messages": []}"#).is_err());
}
