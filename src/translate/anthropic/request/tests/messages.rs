//! Messages and their content: system prompts, images, thinking blocks.

use super::*;

#[test]
fn mid_conversation_system_messages_stay_in_place_and_billing_metadata_is_dropped() {
    let messages = upstream(json!({"model": "m",
    "system": [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.abc; cc_entrypoint=sdk-cli;"},
        {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}
    ],
    "messages": [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Available agent types for the Agent tool: general."},
        {"role": "assistant", "content": "Hello"},
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "go"}
    ]}));
    assert_eq!(
        messages,
        [
            json!({"type": "system_message", "content": "You are Claude Code."}),
            json!({"type": "user_message", "content": "hi"}),
            json!({"type": "system_message", "content": "Available agent types for the Agent tool: general."}),
            json!({"type": "assistant_message", "content": "Hello"}),
            json!({"type": "system_message", "content": "Be brief."}),
            json!({"type": "user_message", "content": "go"}),
        ]
    );
    // A system prompt that is nothing but the metadata sends no system message at all.
    let messages = upstream(json!({"model": "m",
        "system": "x-anthropic-billing-header: cc_version=1; cc_entrypoint=cli;",
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(messages, [json!({"type": "user_message", "content": "hi"})]);
}

#[test]
fn system_prompt_as_string_or_blocks() {
    let messages = upstream(json!({"model": "m", "system": "Be brief.",
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(
        messages,
        [
            json!({"type": "system_message", "content": "Be brief."}),
            json!({"type": "user_message", "content": "hi"})
        ]
    );
    let messages = upstream(json!({"model": "m",
        "system": [{"type": "text", "text": "One.", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "Two."}],
        "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(
        messages[0],
        json!({"type": "system_message", "content": "One.\nTwo."})
    );
    let messages = upstream(
        json!({"model": "m", "system": "", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(messages.len(), 1, "an empty system prompt is not sent");
}

#[test]
fn images_become_media_messages_before_the_text() {
    let messages = upstream(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}
        ]}]}),
    );
    assert_eq!(
        messages,
        [
            json!({"type": "media_message", "mediaType": "image/png", "data": PNG}),
            json!({"type": "user_message", "content": "what is this"})
        ]
    );
}

#[test]
fn thinking_blocks_are_dropped_and_string_content_works_for_assistants() {
    let messages = upstream(json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "Hello"}]},
        {"role": "assistant", "content": "More"},
    ]}));
    assert_eq!(
        messages[1],
        json!({"type": "assistant_message", "content": "Hello"})
    );
    assert_eq!(
        messages[2],
        json!({"type": "assistant_message", "content": "More"})
    );
}
