//! Config mistakes in the user's words: where in the file a JSON syntax error is (a key path, never serde's `?`),
//! what a wrong value should have been (never a Rust type such as `u16`), and which known key an unknown one was
//! probably meant to be.

use serde_json::Value;

mod syntax;
pub use syntax::syntax_error;

/// Every key of a `jetbrains_tokens` entry.
pub const TOKEN_KEYS: [&str; 11] = [
    "token",
    "name",
    "description",
    "priority",
    "weight",
    "max_concurrency",
    "metadata",
    "enabled",
    "license_id",
    "authorization",
    "refresh_token",
];

/// The known name `wanted` was most likely meant to be: same letters in another case or with `-` for `_`, or a
/// small edit away (a typo, a swapped pair). `None` when nothing is close, so a suggestion is never a wild guess.
pub fn did_you_mean<'a>(wanted: &str, known: &[&'a str]) -> Option<&'a str> {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let wanted = norm(wanted);
    // Long names tolerate one more slip than short ones; a 3-letter name only a single one.
    let allowed = match wanted.chars().count() {
        0..=4 => 1,
        5..=11 => 2,
        _ => 3,
    };
    known
        .iter()
        .map(|k| (strsim::osa_distance(&wanted, &norm(k)), *k))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| match k {
            "jwt_tokens" | "jwt_token" => "jetbrains_tokens",
            k => k,
        })
}

/// A value as it may be quoted in an error: numbers and booleans as written, a short string in quotes, and a long
/// or JWT-like string only described (it is often a secret pasted in the wrong place).
pub fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if looks_secret(s) => format!("a {}-character string", s.chars().count()),
        Value::String(s) => format!("\"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

/// Long or dotted like a JWT: described, never quoted.
pub fn looks_secret(text: &str) -> bool {
    text.len() > 48 || text.matches('.').count() >= 2
}

/// The one wording of a bad port, for the file, the environment and the command line alike.
pub fn not_a_port(shown: &str) -> String {
    format!("{shown} is not a port number; use a whole number from 0 to 65535")
}

/// A whole number in `range`, from a JSON value; the error names what the number is for (`what`) and what to
/// write instead (`advice`).
pub fn whole_number(
    value: &Value,
    range: std::ops::RangeInclusive<i64>,
    what: &str,
    advice: &str,
) -> Result<i64, String> {
    match value.as_i64() {
        Some(n) if range.contains(&n) => Ok(n),
        _ => Err(format!(
            "{} is not {what}; use {advice}",
            describe_value(value)
        )),
    }
}

/// serde's wording for a wrong type or value in the user's words: `invalid type: sequence, expected a string`
/// becomes `expected a string, got a list`; "a list" and "an object" stand for "a sequence" and "a map".
pub fn plain_words(message: &str) -> String {
    let words = |text: &str| -> String {
        let text = text.trim();
        let plain = match text {
            "sequence" | "a sequence" => "a list",
            "map" | "a map" => "an object",
            "a boolean" => "true or false",
            "unit value" => "null",
            other => other,
        };
        // `boolean `true``, `integer `1``, `floating point `1.5``: the value alone.
        match (plain.find('`'), plain.rfind('`')) {
            (Some(a), Some(b)) if b > a => plain[a + 1..b].to_string(),
            _ => plain.to_string(),
        }
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((got, expected)) = rest.split_once(", expected ")
        {
            return format!("expected {}, got {}", words(expected), words(got));
        }
    }
    message.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn suggestions_are_close_or_absent() {
        let top = super::super::settings::TOP_LEVEL_KEYS;
        assert_eq!(did_you_mean("server_prot", top), Some("server_port"));
        assert_eq!(
            did_you_mean("helth_check_interval", top),
            Some("health_check_interval")
        );
        assert_eq!(did_you_mean("Server-Host", top), Some("server_host"));
        assert_eq!(did_you_mean("jwt_tokens", top), Some("jetbrains_tokens"));
        assert_eq!(did_you_mean("nmae", &TOKEN_KEYS), Some("name"));
        assert_eq!(did_you_mean("wieght", &TOKEN_KEYS), Some("weight"));
        assert_eq!(did_you_mean("colour", top), None);
        assert_eq!(did_you_mean("log_level", top), None);
    }

    #[test]
    fn numbers_are_described_in_words_not_types() {
        let weight = whole_number(
            &json!(-1),
            0..=9,
            "a weight",
            "a whole number of at least 1",
        )
        .unwrap_err();
        assert_eq!(
            weight,
            "-1 is not a weight; use a whole number of at least 1"
        );
        let secret = whole_number(&json!("eyJa.eyJb.sig"), 0..=9, "a port", "1").unwrap_err();
        assert!(!secret.contains("eyJ"), "{secret}");
        assert_eq!(whole_number(&json!(7), 0..=9, "x", "y"), Ok(7));
        assert!(whole_number(&json!(1.5), 0..=9, "x", "y").is_err());
    }

    #[test]
    fn type_errors_are_said_plainly() {
        assert_eq!(
            plain_words("invalid type: sequence, expected a string"),
            "expected a string, got a list"
        );
        assert_eq!(
            plain_words("invalid type: a string, expected a boolean"),
            "expected true or false, got a string"
        );
        assert_eq!(
            plain_words("invalid type: integer `1`, expected a map"),
            "expected an object, got 1"
        );
        assert_eq!(plain_words("trailing comma"), "trailing comma");
    }
}
