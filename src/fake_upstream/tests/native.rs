//! The native provider routes of the fake: the provider's rules refuse what the provider would (with its error
//! shape), and a valid request gets the provider's answer, streamed or whole.

use serde_json::{Value, json};

use super::*;
use crate::fake_upstream::Behaviour;

const ANTHROPIC: &str = "/user/v5/llm/anthropic/v1/messages";
const OPENAI: &str = "/user/v5/llm/openai/v1/chat/completions";

fn claude(extra: Value) -> Value {
    let mut body = json!({"model": "claude-opus-4-7", "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}]});
    if let (Some(map), Value::Object(extra)) = (body.as_object_mut(), extra) {
        map.extend(extra);
    }
    body
}

async fn send(fake: &FakeUpstream, path: &str, body: &Value) -> (u16, String) {
    let response = post(fake, path, "alice").json(body).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn each_provider_rule_answers_400_in_the_providers_shape() {
    let fake = fake().await;
    let thinking_unsigned = json!({"messages": [{"role": "user", "content": "a"},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm"}]}, {"role": "user", "content": "b"}]});
    let anthropic_cases = [
        (
            "a v8 body",
            json!({"model": "claude-opus-4-7", "profile": "x", "chat": {}}),
            "Extra inputs",
        ),
        (
            "a profile id as the model",
            claude(json!({"model": "anthropic-claude-4-7-opus"})),
            "Unsupported model [claude-",
        ),
        (
            "no max_tokens",
            json!({"model": "claude-opus-4-7", "messages": [{"role": "user", "content": "a"}]}),
            "max_tokens",
        ),
        (
            "a small thinking budget",
            claude(json!({"thinking": {"type": "enabled", "budget_tokens": 100}})),
            "budget_tokens",
        ),
        (
            "an unsigned thinking block",
            claude(thinking_unsigned),
            "signature: Field required",
        ),
        (
            "blank text",
            claude(
                json!({"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]}),
            ),
            "non-empty",
        ),
        (
            "a cache_control of another type",
            claude(json!({"system": [{"type": "text", "text": "s",
            "cache_control": {"type": "forever"}}]})),
            "ephemeral",
        ),
    ];
    for (case, body, says) in anthropic_cases {
        let (status, text) = send(&fake, ANTHROPIC, &body).await;
        assert_eq!(status, 400, "{case}: {text}");
        let error: Value = serde_json::from_str(&text).expect("JSON error");
        assert_eq!(error["type"], "error", "{case}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(says),
            "{case}: {text}"
        );
    }
    let openai_cases = [
        (
            "an argument OpenAI does not know",
            json!({"model": "gpt-4.1", "messages": [], "profile": "p"}),
            "Unrecognized",
        ),
        (
            "a Claude id",
            json!({"model": "claude-opus-4-7", "messages": [{"role": "user", "content": "a"}]}),
            "Unsupported model",
        ),
        (
            "stream_options without stream",
            json!({"model": "gpt-4.1", "stream_options": {"include_usage": true},
            "messages": [{"role": "user", "content": "a"}]}),
            "stream_options",
        ),
    ];
    for (case, body, says) in openai_cases {
        let (status, text) = send(&fake, OPENAI, &body).await;
        assert_eq!(status, 400, "{case}: {text}");
        let error: Value = serde_json::from_str(&text).expect("JSON error");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(says),
            "{case}: {text}"
        );
    }
}

#[tokio::test]
async fn valid_requests_get_the_providers_answer() {
    let fake = fake().await;
    let body = claude(json!({"thinking": {"type": "enabled", "budget_tokens": 2048}}));
    let (status, text) = send(&fake, ANTHROPIC, &body).await;
    assert_eq!(status, 200, "{text}");
    let message: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(message["type"], "message");
    assert_eq!(message["content"][0]["type"], "thinking");
    assert_eq!(message["content"][1]["text"], "Echo: hi");
    let (status, text) = send(&fake, ANTHROPIC, &claude(json!({"stream": true}))).await;
    assert_eq!(status, 200);
    assert!(text.starts_with("event: message_start\ndata: "), "{text}");
    assert!(
        text.ends_with("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"),
        "{text}"
    );
    let chat = json!({"model": "gpt-4.1", "stream": true, "stream_options": {"include_usage": true},
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, text) = send(&fake, OPENAI, &chat).await;
    assert_eq!(status, 200);
    assert!(text.contains("\"usage\":{"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
}

#[tokio::test]
async fn a_raw_stream_is_an_uncached_event_stream_and_hang_never_answers() {
    let fake = fake().await;
    fake.set_behaviour("alice", Behaviour::RawStream("data: [DONE]\n\n".into()));
    let chat = json!({"model": "gpt-4.1", "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let response = post(&fake, OPENAI, "alice")
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
    assert_eq!(header("content-type"), Some("text/event-stream"));
    assert_eq!(header("cache-control"), Some("no-cache"));
    assert_eq!(response.text().await.unwrap(), "data: [DONE]\n\n");

    fake.set_behaviour("alice", Behaviour::Hang);
    let request = post(&fake, ANTHROPIC, "alice")
        .json(&claude(json!({"stream": true})))
        .timeout(std::time::Duration::from_millis(150));
    let error = request.send().await.expect_err("no answer");
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        wait_active(&fake, 0).await,
        "the hanging request ends when the client goes"
    );
    assert_eq!(fake.requests().last().unwrap().status, 0);
}
