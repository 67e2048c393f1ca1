//! The config file: reading and parsing it, with every error at `file:line:column` in the user's words, and unknown
//! keys refused by name. The file's top-level shape (`FileConfig`) is generated from the key table in
//! `settings.rs`; a token entry's shape is here.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

pub use super::settings::FileConfig;
use super::{ConfigError, explain, settings};

/// One entry of `jetbrains_tokens`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(expecting = "a JSON object such as {\"token\": \"eyJ...\", \"name\": \"Primary_JWT\"}")]
pub struct FileToken {
    pub token: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    #[serde(default, deserialize_with = "super::value::opt_priority")]
    pub priority: Option<i64>,
    #[serde(default, deserialize_with = "super::value::opt_weight")]
    pub weight: Option<u32>,
    #[serde(default, deserialize_with = "super::value::opt_concurrency")]
    pub max_concurrency: Option<u32>,
    pub metadata: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
    pub license_id: Option<String>,
    pub authorization: Option<String>,
    pub refresh_token: Option<String>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// Reads and parses a config file, naming the file (and line and column, for JSON errors) in every error.
pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = super::regular_file::read(path, super::regular_file::CONFIG_MAX_BYTES)
        .and_then(|b| String::from_utf8(b).map_err(std::io::Error::other))
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let file: FileConfig = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let at = err.path().to_string();
        parse_error(text, path, Some(at), err.into_inner())
    })?;
    de.end()
        .map_err(|inner| parse_error(text, path, None, inner))?;
    refuse_unknown_keys(&file, path)?;
    Ok(file)
}

/// A JSON error at `file:line:column`, said in the user's words: a syntax error with the key path it follows
/// (`trailing comma after jetbrains_tokens[0]`), a wrong value with its key (`server_port: "abc" is not a port
/// number; …`).
fn parse_error(
    text: &str,
    path: &Path,
    at: Option<String>,
    inner: serde_json::Error,
) -> ConfigError {
    use serde_json::error::Category;
    let message = strip_position(&inner.to_string());
    let (key, message) = match inner.classify() {
        Category::Syntax | Category::Eof => {
            let start_of_line: usize = text
                .split_inclusive('\n')
                .take(inner.line().saturating_sub(1))
                .map(str::len)
                .sum();
            let offset = start_of_line + inner.column();
            let eof = inner.classify() == Category::Eof;
            (None, explain::syntax_error(text, offset, &message, eof))
        }
        Category::Data | Category::Io => {
            // serde_path_to_error writes `?` for a step it could not name; such a path helps nobody.
            let key = at.filter(|a| a != "." && !a.is_empty() && !a.contains('?'));
            (key, explain::plain_words(&message))
        }
    };
    ConfigError::Parse {
        path: path.to_path_buf(),
        line: inner.line(),
        column: inner.column(),
        key,
        message,
    }
}

/// Every unknown key at once (fixing one typo per run is tedious), each with the known key it is closest to.
fn refuse_unknown_keys(file: &FileConfig, path: &Path) -> Result<(), ConfigError> {
    let unknown = |map: &BTreeMap<String, Value>, known: &[&str], prefix: &str| {
        map.keys()
            .filter(|k| !k.starts_with('_'))
            .map(|k| {
                let shown = format!("{prefix}{}", printable_key(k));
                (shown, explain::did_you_mean(k, known).map(str::to_string))
            })
            .collect::<Vec<_>>()
    };
    let mut keys = unknown(&file.unknown, settings::TOP_LEVEL_KEYS, "");
    for (i, token) in file.jetbrains_tokens.iter().flatten().enumerate() {
        keys.extend(unknown(
            &token.unknown,
            &explain::TOKEN_KEYS,
            &format!("jetbrains_tokens[{i}]."),
        ));
    }
    if keys.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::UnknownKey {
            path: path.to_path_buf(),
            keys,
        })
    }
}

/// An unknown key as it may be shown. A token pasted where a key belongs (`{"eyJ…": …}`) must not be echoed into
/// an error, a log or a `/reload` answer, so a key that is long or dotted like a JWT is described, not quoted.
fn printable_key(key: &str) -> String {
    if key.len() > 48 || key.matches('.').count() >= 2 {
        format!(
            "<a {}-character key that looks like a secret>",
            key.chars().count()
        )
    } else {
        key.to_string()
    }
}

/// serde_json appends " at line L column C"; the position is reported separately, in `file:line:column` form.
/// A type error quotes the offending string (`invalid type: string "eyJ…", expected a sequence`), which is often a
/// token put in the wrong place, so the quoted text is dropped: the key and position already say where it is.
fn strip_position(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message,
    };
    match message.find("string \"") {
        Some(start) => match message[start..].find("\", expected") {
            Some(end) => format!(
                "{}a string{}",
                &message[..start],
                &message[start + end + 1..]
            ),
            None => message.to_string(),
        },
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn parse_str(text: &str) -> Result<FileConfig, ConfigError> {
        parse(text, Path::new("cfg.json"))
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column() {
        let err = parse_str("{\n  \"server_port\": 8080,\n  \"server_host\" \"x\"\n}")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cfg.json:3:17:"), "{err}");
        assert!(err.contains("expected `:`"), "{err}");
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let err = parse_str(r#"{"jetbrains_tokens":[{"token":"a","priority":"high"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("jetbrains_tokens[0].priority"), "{err}");
    }

    #[test]
    fn every_unknown_key_is_reported_at_once_with_a_suggestion() {
        let err = parse_str(
            r#"{"server_prot": 1, "helth_check_interval": "3s", "colour": "red",
                "jetbrains_tokens": [{"token": "a", "nmae": "x"}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "cfg.json: unknown keys `colour`, `helth_check_interval` (did you mean `health_check_interval`?), \
`server_prot` (did you mean `server_port`?), `jetbrains_tokens[0].nmae` (did you mean `name`?)"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_key_lists_for_suggestions_are_the_keys_the_parser_knows() {
        for key in settings::TOP_LEVEL_KEYS
            .iter()
            .filter(|k| !k.starts_with("jwt_"))
        {
            let file = parse_str(&format!(r#"{{"{key}": null}}"#)).expect(key);
            assert!(file.unknown.is_empty(), "{key} is not a key of the file");
        }
        for key in explain::TOKEN_KEYS {
            let file =
                parse_str(&format!(r#"{{"jetbrains_tokens": [{{"{key}": null}}]}}"#)).expect(key);
            let entry = file.jetbrains_tokens.unwrap_or_default();
            assert!(
                entry[0].unknown.is_empty(),
                "{key} is not a key of a token entry"
            );
        }
        // And no key is missing from the lists: the loader's view names every key.
        let sample = r#"{"jetbrains_tokens":[{"token":"a","license_id":"l","authorization":"a"}]}"#;
        let config = crate::config::load_text(sample, Path::new("cfg.json")).expect("loads");
        let view = crate::config::view::redacted_json(&config);
        for key in view.as_object().into_iter().flatten().map(|(k, _)| k) {
            assert!(
                key == "sources" || settings::TOP_LEVEL_KEYS.contains(&key.as_str()),
                "{key} is missing from TOP_LEVEL_KEYS"
            );
        }
        for key in view["jetbrains_tokens"][0]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            assert!(
                key == "expires_at" || explain::TOKEN_KEYS.contains(&key.as_str()),
                "{key} is missing from TOKEN_KEYS"
            );
        }
    }

    #[test]
    fn numbers_and_durations_are_explained_without_rust_types() {
        for (text, want) in [
            (
                r#"{"server_port": "abc"}"#,
                "server_port: \"abc\" is not a port number; use a whole number from 0 to 65535",
            ),
            (
                r#"{"server_port": 99999}"#,
                "server_port: 99999 is not a port number",
            ),
            (
                r#"{"jetbrains_tokens":[{"token":"a","priority":"high"}]}"#,
                "jetbrains_tokens[0].priority: \"high\" is not a priority; use a whole number",
            ),
            (
                r#"{"jetbrains_tokens":[{"token":"a","weight":-1}]}"#,
                "jetbrains_tokens[0].weight: -1 is not a weight; use a whole number of at least 1",
            ),
            (
                r#"{"max_attempts": 1.5}"#,
                "max_attempts: 1.5 is not a number of attempts",
            ),
            (
                r#"{"shutdown_grace": true}"#,
                "shutdown_grace: true is not a duration; expected e.g. 30s, 5m",
            ),
            (
                r#"{"max_body_size": -3}"#,
                "max_body_size: -3 is not a size",
            ),
            (
                r#"{"watch_config": "yes"}"#,
                "watch_config: expected true or false, got a string",
            ),
        ] {
            let err = parse_str(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text}\n  got: {err}\n want: {want}");
            for jargon in ["u16", "u32", "u64", "i64", "invalid digit", "untagged"] {
                assert!(!err.contains(jargon), "{err}");
            }
        }
    }

    #[test]
    fn a_bad_value_is_reported_where_it_is() {
        let err = parse_str("{\n  \"server_port\": \"eighty\",\n  \"watch_config\": true\n}")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("cfg.json:2:"), "{err}");
        let err = parse_str(
            "{\n  \"jetbrains_tokens\": [\n    {\"token\": \"a\", \"weight\": -2}\n  ]\n}",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("cfg.json:3:"), "{err}");
    }

    #[test]
    fn a_syntax_error_says_after_which_key_without_question_marks() {
        let err = parse_str("{\"jetbrains_tokens\": [{\"token\": \"a\"},\n  ]}")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "cfg.json:2:3: trailing comma after jetbrains_tokens[0]"
        );
    }

    #[test]
    fn unknown_keys_are_refused_by_name_but_underscore_keys_are_comments() {
        let err = parse_str(r#"{"server_prot": 1}"#).unwrap_err().to_string();
        assert!(err.contains("unknown key `server_prot`"), "{err}");
        let err = parse_str(r#"{"jetbrains_tokens":[{"token":"a","nmae":"x"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("jetbrains_tokens[0].nmae"), "{err}");
        let ok = parse_str(r#"{"_comment":"hi","jetbrains_tokens":[{"token":"a","_note":"x"}]}"#);
        assert!(ok.is_ok());
    }

    #[test]
    fn durations_and_sizes_accept_text_and_numbers() {
        let file = parse_str(
            r#"{"health_check_interval":"30s","shutdown_grace":5,"max_body_size":"1MiB"}"#,
        )
        .expect("valid");
        assert_eq!(file.health_check_interval, Some(Duration::from_secs(30)));
        assert_eq!(file.shutdown_grace, Some(Duration::from_secs(5)));
        assert_eq!(file.max_body_size, Some(1024 * 1024));
        let err = parse_str(r#"{"health_check_interval":"soon"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "health_check_interval: \"soon\" is not a duration; expected e.g. 30s, 5m"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_huge_number_of_seconds_is_an_error_not_a_panic() {
        // Regression: `"health_check_interval": 1e30` panicked in `Duration::from_secs_f64`.
        let err = parse_str(r#"{"health_check_interval": 1e30}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("health_check_interval") && err.contains("too long"),
            "{err}"
        );
        let err = parse_str(r#"{"shutdown_grace": -1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("non-negative"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_an_object_says_what_it_should_be() {
        let err = parse_str("[]").unwrap_err().to_string();
        assert!(err.contains("expected a JSON object"), "{err}");
        assert!(!err.contains("FileConfig"), "{err}");
        let err = parse_str(r#"{"jetbrains_tokens": ["eyJ"]}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("jetbrains_tokens[0]") && err.contains("\"token\""),
            "{err}"
        );
    }

    #[test]
    fn a_type_error_does_not_quote_the_misplaced_string() {
        // Regression: `"jetbrains_tokens": "eyJ…,eyJ…"` (the env var's format) echoed the tokens in the error.
        let err = parse_str(r#"{"jetbrains_tokens": "eyJsecret.payload.sig,eyJother"}"#)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("eyJsecret"), "{err}");
        assert!(
            err.contains("jetbrains_tokens: expected a list, got a string"),
            "{err}"
        );
        let err = parse_str(r#"{"bearer_token": 42}"#)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bearer_token: expected a string, got 42"),
            "{err}"
        );
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(parse_str("{} {}").is_err());
    }
}
