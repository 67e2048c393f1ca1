//! The fake's JWT refresh chain: the OAuth endpoint (refresh token → ID token, with rotation) and
//! `provide-access/license/v2` (ID token → JWT).

use serde_json::json;

use super::*;
use crate::fake_upstream::Behaviour;
use crate::jwt::DecodedJwt;

#[tokio::test]
async fn oauth_rotates_the_refresh_token_and_answers_oauth_errors() {
    let fake = fake().await;
    fake.register_account("rt-1", "lic-1", "alice");
    let client = reqwest::Client::new();
    let url = format!("{}/oauth2/token", fake.url());
    let ask = |form: &'static [(&'static str, &'static str)]| client.post(&url).form(form).send();
    let response = ask(&[
        ("grant_type", "refresh_token"),
        ("client_id", "ide"),
        ("refresh_token", "rt-1"),
    ])
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let id_token = body["id_token"].as_str().unwrap();
    let left = DecodedJwt::decode(id_token)
        .unwrap()
        .time_claim("exp")
        .unwrap()
        - crate::epoch::now_secs();
    assert!((3590..=3600).contains(&left), "{left}");
    let rotated = body["refresh_token"].as_str().unwrap();
    assert_ne!(rotated, "rt-1");
    assert_eq!(
        fake.current_refresh_token("alice").as_deref(),
        Some(rotated)
    );
    // The ID token buys a JWT for the account's licence.
    let jwt = refresh_request(&fake, id_token, json!({"licenseId": "lic-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(jwt.status(), 200);
    // The recorded form shows the refresh token by fingerprint only.
    let recorded = &fake.requests()[0];
    assert_eq!(recorded.body["grant_type"], "refresh_token");
    assert_eq!(
        recorded.body["refresh_token"],
        crate::secret::fingerprint("rt-1")
    );

    for (form, status, error) in [
        (
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "ide"),
                ("refresh_token", "rt-1"),
            ][..],
            400,
            "invalid_grant",
        ),
        (
            &[
                ("grant_type", "password"),
                ("client_id", "ide"),
                ("refresh_token", "x"),
            ][..],
            400,
            "unsupported_grant_type",
        ),
        (
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "web"),
                ("refresh_token", "x"),
            ][..],
            401,
            "invalid_client",
        ),
        (
            &[("grant_type", "refresh_token"), ("client_id", "ide")][..],
            400,
            "invalid_request",
        ),
    ] {
        let response = client.post(&url).form(form).send().await.unwrap();
        assert_eq!(response.status(), status, "{form:?}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], error, "{form:?}");
    }
    let json_body = client
        .post(&url)
        .json(&json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status(), 400, "a form, not JSON");
}

fn refresh_request(
    fake: &FakeUpstream,
    id_token: &str,
    body: serde_json::Value,
) -> reqwest::RequestBuilder {
    client()
        .post(format!("{}{REFRESH}", fake.url()))
        .header("authorization", format!("Bearer {id_token}"))
        .header("user-agent", "ktor-client")
        .json(&body)
}

#[tokio::test]
async fn refresh_issues_a_working_jwt_and_clears_the_behaviour() {
    let fake = fake().await;
    fake.register_license("lic-1", "id-token-1", "alice");
    fake.set_behaviour("alice", Behaviour::Unauthorized);
    assert_eq!(
        chat(&fake, V8, "alice", &user_body("a")).await.status(),
        401
    );

    let response = refresh_request(&fake, "id-token-1", json!({"licenseId": "lic-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["state"], "PAID");
    let token = body["token"].as_str().unwrap();
    let claims = DecodedJwt::decode(token).unwrap().claims;
    assert_eq!(claims["sub"], "alice");
    let left = claims["exp"].as_i64().unwrap() - crate::epoch::now_secs();
    assert!((86_000..=86_400).contains(&left), "{left}");

    let again = post_raw(&fake, V8)
        .header("grazie-authenticate-jwt", token)
        .json(&user_body("a"));
    assert_eq!(again.send().await.unwrap().status(), 200);
    assert_eq!(fake.requests()[1].token_name.as_deref(), Some("alice"));
}

#[tokio::test]
async fn refresh_refuses_unknown_licenses_wrong_tokens_and_bad_bodies() {
    let fake = fake().await;
    fake.register_license("lic-1", "id-token-1", "alice");
    let status = |id_token: &str, body: serde_json::Value| {
        let request = refresh_request(&fake, id_token, body);
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(
        status("id-token-1", json!({"licenseId": "lic-2"})).await,
        401
    );
    assert_eq!(
        status("id-token-2", json!({"licenseId": "lic-1"})).await,
        401
    );
    assert_eq!(status("id-token-1", json!({"license": "lic-1"})).await, 400);
    assert_eq!(
        status("id-token-1", json!({"licenseId": "lic-1", "x": 1})).await,
        400
    );
    let no_bearer = client()
        .post(format!("{}{REFRESH}", fake.url()))
        .json(&json!({"licenseId": "lic-1"}));
    assert_eq!(no_bearer.send().await.unwrap().status(), 401);
    assert_eq!(
        status("id-token-1", json!({"licenseId": "lic-1"})).await,
        200
    );
}
