//! The placeholder values of the shipped examples (`config/config.example.json`, `config/.env.example`) and of the
//! original jetbrains-ai-proxy's README: recognised wherever they end up, so a user who copied an example is told
//! "placeholder value from .env (line 5)" instead of a puzzling "not a JWT".

/// Is this a value an example file or the docs put there for the user to replace?
pub fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    let numbered = |prefix: &str| {
        v.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    // A JWT cut short for a document (`eyJ0eXAiOi...`), or a `your_…` / `jwt_token_N` stand-in.
    v.ends_with("...")
        || v.ends_with('…')
        || (v.starts_with("your_") && !v.contains(' '))
        || numbered("jwt_token_")
        || v == "single_jwt_token"
}

/// The message for a placeholder found at `origin` (`.env (line 5)`, `config/config.json`).
pub fn describe(origin: &str) -> String {
    format!("placeholder value from {origin}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_secret_in_the_shipped_examples_is_a_placeholder() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../../config/config.example.json")).expect("json");
        let mut secrets: Vec<String> = config["jetbrains_tokens"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["token"].as_str().map(str::to_string))
            .collect();
        secrets.extend(config["bearer_token"].as_str().map(str::to_string));
        // The .env example ships commented out; its values are what a user gets by uncommenting a line.
        for line in include_str!("../../config/.env.example").lines() {
            let line = line.trim_start_matches('#').trim();
            if let Some((key, value)) = line.split_once('=')
                && ["JWT_TOKENS", "JWT_TOKEN", "BEARER_TOKEN", "ADMIN_TOKEN"].contains(&key)
            {
                secrets.extend(value.split(',').map(str::to_string));
            }
        }
        assert!(secrets.len() >= 6, "{secrets:?}");
        for secret in &secrets {
            assert!(is_placeholder(secret), "{secret} is not recognised");
        }
    }

    #[test]
    fn real_values_are_not_placeholders() {
        for real in [
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln",
            "sk-jbp-Eyw_-397-isEKaXPI7sGnehP1spUA_rFWuh6hzoaW6I",
            "jwt_token_",
            "my-client-key",
        ] {
            assert!(!is_placeholder(real), "{real}");
        }
    }
}
