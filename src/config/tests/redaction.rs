//! The redacted view (`print-config`, `/config`): every secret replaced by its fingerprint, every source named.

use super::*;

fn secret_config() -> (Config, Vec<String>) {
    let jwt = crate::jwt::unsigned(&json!({"sub": "x", "exp": 4_000_000_000_i64}));
    let text = json!({
        "jetbrains_tokens": [{"token": jwt, "name": "a", "license_id": "lic", "authorization": "auth-secret"}],
        "bearer_token": "bearer-secret",
        "admin_token": "admin-secret",
    })
    .to_string();
    let payload = jwt.split('.').nth(1).unwrap_or_default().to_string();
    let c = load_ok(&text, Overrides::default(), &[]);
    (
        c,
        vec![
            jwt,
            payload,
            "bearer-secret".into(),
            "admin-secret".into(),
            "auth-secret".into(),
        ],
    )
}

#[test]
fn the_json_view_redacts_every_secret_and_names_every_source() {
    let (c, secrets) = secret_config();
    let value = view::redacted_json(&c);
    let text = value.to_string();
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "{s} shown in {text}");
    }
    let token = &value["jetbrains_tokens"][0];
    assert_eq!(
        token["token"],
        crate::secret::redacted(c.tokens[0].token.expose_secret())
    );
    assert_eq!(token["license_id"], "lic");
    assert!(
        token["authorization"]
            .as_str()
            .is_some_and(|a| a.starts_with("<redacted sha256:"))
    );
    assert_eq!(token["expires_at"], "2096-10-02T07:06:40Z");
    assert!(
        value["bearer_token"]
            .as_str()
            .is_some_and(|a| a.starts_with("<redacted sha256:"))
    );
    assert!(
        value["admin_token"]
            .as_str()
            .is_some_and(|a| a.starts_with("<redacted sha256:"))
    );
    let sources = value["sources"].as_object().expect("sources");
    let keys: Vec<&String> = value
        .as_object()
        .expect("object")
        .keys()
        .filter(|k| *k != "sources")
        .collect();
    assert_eq!(sources.len(), keys.len());
    assert!(
        sources["bearer_token"]
            .as_str()
            .is_some_and(|s| s.starts_with("file "))
    );
    assert_eq!(sources["server_port"], "default");
}

#[test]
fn the_table_rows_redact_every_secret() {
    let (c, secrets) = secret_config();
    let rows = view::rows(&c);
    let text = format!("{rows:?}");
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "{s} shown in {text}");
    }
    let token_row = rows
        .iter()
        .find(|r| r.0 == "jetbrains_tokens")
        .expect("token row");
    assert!(token_row.1.starts_with("a (sha256:"), "{}", token_row.1);
    assert!(token_row.1.contains("expires 2096-10-02T07:06:40Z"));
    let unset = load_ok("{}", Overrides::default(), &[]);
    let rows = view::rows(&unset);
    assert!(
        rows.iter()
            .any(|r| r.0 == "jetbrains_tokens" && r.1 == "(none)")
    );
    assert!(
        rows.iter()
            .any(|r| r.0 == "bearer_token" && r.1 == "(not set)")
    );
}

#[test]
fn debug_output_never_shows_a_secret() {
    let (c, secrets) = secret_config();
    let text = format!("{c:?}");
    for s in &secrets[..1] {
        assert!(!text.contains(s.as_str()), "{s} shown in Debug");
    }
    assert!(!text.contains("bearer-secret") && !text.contains("auth-secret"));
}
