//! The quota and profiles endpoints, unknown paths, request recording, shutdown and the JWT helpers.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::epoch::now_ms;
use crate::fake_upstream::{Behaviour, mint_expired_jwt};
use crate::jwt::DecodedJwt;

#[tokio::test]
async fn quota_reports_the_default_then_what_was_set_and_spent() {
    let fake = fake().await;
    let response = post(&fake, QUOTA, "alice").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let current = &body["current"];
    assert_eq!(current["current"]["amount"], "0.0");
    assert_eq!(current["maximum"]["amount"], "300000.0");
    assert_eq!(current["tariffQuota"]["available"]["amount"], "300000.0");
    assert_eq!(current["topUpQuota"]["available"]["amount"], "0");
    let until = current["until"].as_i64().unwrap();
    assert!(until > now_ms() + 29 * 24 * 3600 * 1000);
    assert!(body["until"].as_str().unwrap().ends_with('Z'));

    fake.set_quota("alice", 120_000.0, 300_000.0, 1_900_000_000_000);
    chat(&fake, V8, "alice", &user_body("spend"))
        .await
        .text()
        .await
        .unwrap();
    let body: serde_json::Value = post(&fake, QUOTA, "alice")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["current"]["current"]["amount"], "120001.0");
    assert_eq!(
        body["current"]["tariffQuota"]["available"]["amount"],
        "179999.0"
    );
    assert_eq!(body["current"]["until"], 1_900_000_000_000_i64);
    assert_eq!(body["until"], "2030-03-17T17:46:40Z");

    // `{}` is accepted as an empty body; anything else is not.
    assert_eq!(
        post(&fake, QUOTA, "alice")
            .body("{}")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(&fake, QUOTA, "alice")
            .body("{\"a\":1}")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    // JWT and agent rules as on chat.
    let expired =
        post_raw(&fake, QUOTA).header("grazie-authenticate-jwt", mint_expired_jwt("alice"));
    assert_eq!(expired.send().await.unwrap().status(), 401);
    let no_agent = post_without(&fake, QUOTA, "grazie-agent").header(
        "grazie-authenticate-jwt",
        mint_jwt("alice", Duration::from_secs(60)),
    );
    assert_eq!(no_agent.send().await.unwrap().status(), 400);
    // Quota checks are not chats.
    assert_eq!(fake.chat_requests_for("alice"), 1);
}

#[tokio::test]
async fn exhausted_quota_refuses_chat_and_shows_nothing_left() {
    let fake = fake().await;
    fake.set_behaviour("alice", Behaviour::QuotaExhausted);
    let body: serde_json::Value = post(&fake, QUOTA, "alice")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["current"]["current"]["amount"],
        body["current"]["maximum"]["amount"]
    );
    assert_eq!(body["current"]["tariffQuota"]["available"]["amount"], "0.0");

    // The same by the numbers, until a moment that then passes and starts a new period.
    let fake = super::fake().await;
    fake.set_quota("bob", 500.0, 500.0, now_ms() + 300);
    assert_eq!(chat(&fake, V8, "bob", &user_body("a")).await.status(), 477);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(chat(&fake, V8, "bob", &user_body("a")).await.status(), 200);
    let body: serde_json::Value = post(&fake, QUOTA, "bob")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["current"]["current"]["amount"], "1.0");
    assert_eq!(body["current"]["maximum"]["amount"], "500.0");
}

#[tokio::test]
async fn unknown_paths_and_methods_are_404() {
    let fake = fake().await;
    let response = post(&fake, "/user/v5/llm/chat/stream/v9", "alice")
        .json(&user_body("a"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = client()
        .get(format!("{}{V8}", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let statuses: Vec<(String, u16)> = fake
        .requests()
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(
        statuses,
        [("POST".to_owned(), 404), ("GET".to_owned(), 404)]
    );
}

#[tokio::test]
async fn requests_are_recorded_in_order_without_showing_the_jwt() {
    let fake = fake().await;
    let body = user_body("first");
    chat(&fake, V8, "alice", &body).await.text().await.unwrap();
    post(&fake, QUOTA, "bob").send().await.unwrap();
    let recorded = fake.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].path, V8);
    assert_eq!(recorded[0].token_name.as_deref(), Some("alice"));
    assert_eq!(recorded[0].body, body);
    assert_eq!(recorded[0].status, 200);
    assert_eq!(recorded[0].headers["user-agent"], "ktor-client");
    assert_eq!(recorded[1].path, QUOTA);
    assert_eq!(recorded[1].token_name.as_deref(), Some("bob"));
    assert_eq!(recorded[1].body, serde_json::Value::Null);
    // The raw JWT is there for assertions, but Debug output hides it.
    let jwt = recorded[0].headers["grazie-authenticate-jwt"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(DecodedJwt::decode(&jwt).unwrap().claims["sub"], "alice");
    assert!(!format!("{recorded:?}").contains(&jwt));

    let quiet = fake_with(FakeOptions {
        record_requests: false,
        ..FakeOptions::default()
    })
    .await;
    chat(&quiet, V8, "alice", &body).await.text().await.unwrap();
    assert!(quiet.requests().is_empty());
    assert_eq!(quiet.chat_requests_for("alice"), 1);
}

#[tokio::test]
async fn the_http_version_of_each_request_is_recorded() {
    let fake = fake().await;
    let body = user_body("over HTTP/1.1");
    chat(&fake, V8, "alice", &body).await.text().await.unwrap();
    let h2 = reqwest::Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let answer = h2
        .post(format!("{}{V8}", fake.url()))
        .header(
            "grazie-authenticate-jwt",
            mint_jwt("alice", Duration::from_secs(3600)),
        )
        .header("grazie-agent", r#"{"name":"aia:idea","version":"1"}"#)
        .header("content-type", "application/json")
        .json(&user_body("over HTTP/2"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.version(), reqwest::Version::HTTP_2);
    assert_eq!(answer.status(), 200);
    assert!(answer.text().await.unwrap().contains("data: end"));
    let versions: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| (r.status, r.version))
        .collect();
    assert_eq!(
        versions,
        [
            (200, axum::http::Version::HTTP_11),
            (200, axum::http::Version::HTTP_2)
        ]
    );
}

#[tokio::test]
async fn shutdown_closes_the_port_and_breaks_off_streams() {
    let fake = fake().await;
    fake.set_behaviour(
        "alice",
        Behaviour::PauseBetweenEvents(Duration::from_secs(10)),
    );
    let url = fake.url();
    let mut response = chat(&fake, V8, "alice", &user_body("a")).await;
    response.chunk().await.unwrap().expect("first event");
    fake.shutdown();
    let broken = tokio::time::timeout(Duration::from_secs(1), response.chunk())
        .await
        .expect("ends promptly");
    assert!(broken.is_err(), "the stream breaks rather than finishing");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let refused = client().post(format!("{url}{QUOTA}")).send().await;
    assert!(refused.is_err_and(|e| e.is_connect()));
}

#[test]
fn minted_jwts_carry_sub_exp_and_iat() {
    let token = mint_jwt("carol", Duration::from_secs(600));
    let jwt = DecodedJwt::decode(&token).unwrap();
    assert_eq!(jwt.header["alg"], "HS256");
    assert_eq!(jwt.claims["sub"], "carol");
    let now = crate::epoch::now_secs();
    assert!((now + 599..=now + 600).contains(&jwt.time_claim("exp").unwrap()));
    assert!(jwt.time_claim("iat").unwrap() <= now);
    let expired = DecodedJwt::decode(&mint_expired_jwt("carol")).unwrap();
    assert!(expired.time_claim("exp").unwrap() < now);
}

#[test]
fn text_splits_exactly() {
    use crate::fake_upstream::reply::split_even;
    assert_eq!(split_even("Echo: héllo", 3).concat(), "Echo: héllo");
    assert_eq!(split_even("abcdef", 3), ["ab", "cd", "ef"]);
    assert_eq!(split_even("ab", 3).concat(), "ab");
    assert_eq!(split_even("ab", 3).len(), 3);
    assert!(split_even("abc", 0).is_empty());
}

#[tokio::test]
async fn profiles_answer_the_default_table_or_what_a_test_set() {
    let fake = fake().await;
    let get = |name: &str| {
        reqwest::Client::new()
            .get(format!("{}/user/v5/llm/profiles/v8", fake.url()))
            .header(
                "grazie-authenticate-jwt",
                crate::fake_upstream::mint_jwt(name, Duration::from_secs(60)),
            )
            .header("grazie-agent", r#"{"name":"t","version":"1"}"#)
            .send()
    };
    let body: serde_json::Value = get("alice").await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = body["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(
        ids.contains(&"openai-gpt-4o") && ids.contains(&"anthropic-claude-4-7-opus"),
        "{ids:?}"
    );
    assert!(
        body["profiles"][0].get("chatDefinition").is_none(),
        "the fake claims no parameters"
    );
    fake.set_profiles(
        "bob",
        crate::fake_upstream::Profiles::Answer(json!({"profiles": []})),
    );
    fake.set_profiles("carol", crate::fake_upstream::Profiles::Fail(502));
    fake.set_behaviour("dave", Behaviour::Suspended);
    assert_eq!(
        get("bob")
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap(),
        json!({"profiles": []})
    );
    assert_eq!(get("carol").await.unwrap().status(), 502);
    assert_eq!(get("dave").await.unwrap().status(), 477);
}
