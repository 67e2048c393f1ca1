//! Every check on chat requests answers 400 (or 401 for the JWT) with a body saying what is wrong.

use serde_json::{Value, json};

use super::*;
use crate::fake_upstream::mint_expired_jwt;

mod messages;
mod parameters;

/// A body with `messages` and optional `parameters` for `profile`.
fn body(profile: &str, messages: Value, parameters: Option<Value>) -> Value {
    let mut body = json!({"prompt": "ij.chat.request.new-chat-on-start", "profile": profile, "chat": {"messages": messages}});
    if let Some(parameters) = parameters {
        body["parameters"] = parameters;
    }
    body
}

fn user(text: &str) -> Value {
    json!({"type": "user_message", "content": text})
}

/// `parameters` holding one pair.
fn pair(kind: &str, fqdn: &str, value: Value) -> Value {
    json!({"data": [{"type": kind, "fqdn": fqdn}, {"type": kind, "value": value, "modified": 0}]})
}

fn v8_tools_value(value: Value) -> Value {
    json!({"data": [
        {"type": "json", "fqdn": "llm.parameters.tools"},
        {"type": "json", "value": value, "modified": 1_756_630_000_000_i64},
    ]})
}

/// Each case: what it is, the route, the body, and what the 400 must say.
type Case = (&'static str, &'static str, Value, &'static str);

fn bad_bodies() -> Vec<Case> {
    let mut cases = messages::cases();
    cases.extend(parameters::cases());
    cases
}

#[tokio::test]
async fn each_body_rule_answers_400_saying_what() {
    let fake = fake().await;
    for (case, path, body, says) in bad_bodies() {
        let response = chat(&fake, path, "alice", &body).await;
        assert_eq!(response.status(), 400, "{case}");
        let text = response.text().await.unwrap();
        assert!(text.contains(says), "{case}: {text:?} should say {says:?}");
    }
    // Each was recorded as a 400 for the token.
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert!(statuses.iter().all(|s| *s == 400));
    assert_eq!(fake.chat_requests_for("alice"), bad_bodies().len());
}

#[tokio::test]
async fn clean_gemini_tools_and_images_pass() {
    let fake = fake().await;
    let messages = json!([
        {"type": "media_message", "mediaType": "image/webp", "data": "UklGRg"},
        user("what is this?"),
    ]);
    let ok = body(
        "google-chat-gemini-pro-2.5",
        messages,
        Some(v8_tools("look", city_schema())),
    );
    assert_eq!(chat(&fake, V8, "alice", &ok).await.status(), 200);
    // `$` keys are only a problem for google-* profiles.
    let dollar = json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"});
    let claude = body(
        "anthropic-claude-4-sonnet",
        json!([user("a")]),
        Some(v8_tools("t", dollar)),
    );
    assert_eq!(chat(&fake, V8, "alice", &claude).await.status(), 200);
}

#[tokio::test]
async fn headers_are_checked() {
    let fake = fake().await;
    let good = user_body("a");
    let jwt = mint_jwt("alice", Duration::from_secs(60));
    let send =
        |request: reqwest::RequestBuilder| async { request.json(&good).send().await.unwrap() };

    let response = send(post_raw(&fake, V8)).await;
    assert_eq!(response.status(), 401, "no JWT");
    let response =
        send(post_raw(&fake, V8).header("grazie-authenticate-jwt", format!("Bearer {jwt}"))).await;
    assert_eq!(response.status(), 401, "Bearer prefix");
    assert!(
        !response.text().await.unwrap().contains(&jwt),
        "a JWT is never echoed"
    );
    let response = send(post_raw(&fake, V8).header("grazie-authenticate-jwt", "not-a-jwt")).await;
    assert_eq!(response.status(), 401, "malformed");
    let response =
        send(post_raw(&fake, V8).header("grazie-authenticate-jwt", mint_expired_jwt("alice")))
            .await;
    assert_eq!(response.status(), 401, "expired");
    assert!(response.text().await.unwrap().contains("expired"));

    let with_jwt =
        |omit: &str| post_without(&fake, V8, omit).header("grazie-authenticate-jwt", &jwt);
    assert_eq!(
        send(with_jwt("grazie-agent")).await.status(),
        400,
        "no grazie-agent"
    );
    let bad_agent = with_jwt("grazie-agent").header("grazie-agent", "aia:pycharm");
    assert_eq!(send(bad_agent).await.status(), 400, "grazie-agent not JSON");
    // JetBrains' own client sends no Accept header at all.
    assert_eq!(send(with_jwt("accept")).await.status(), 200, "no Accept");
    let text_body = with_jwt("content-type")
        .header("content-type", "text/plain")
        .body(good.to_string());
    assert_eq!(
        text_body.send().await.unwrap().status(),
        400,
        "Content-Type not JSON"
    );
    let not_json = post(&fake, V8, "alice").body("{not json");
    assert_eq!(
        not_json.send().await.unwrap().status(),
        400,
        "body not JSON"
    );
    // The sanity case: the same request with good headers passes.
    assert_eq!(send(post(&fake, V8, "alice")).await.status(), 200);
}
