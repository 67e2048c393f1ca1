//! The config file: its JSON shape (the seed's format plus jbproxy's keys) and how it is read.
//!
//! Every field is optional here; defaults are applied later, when the layers are merged, so that `print-config` can
//! tell a value the user wrote from one jbproxy chose.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::ConfigError;

/// The whole file. Unknown keys are collected so they can be refused by name, unless they start with `_`
/// (the JSON stand-in for a comment).
#[derive(Debug, Default, Deserialize)]
#[serde(expecting = "a JSON object such as {\"jetbrains_tokens\": [...], \"server_port\": 8080}")]
pub struct FileConfig {
    pub jetbrains_tokens: Option<Vec<FileToken>>,
    pub bearer_token: Option<String>,
    pub admin_token: Option<String>,
    pub load_balance_strategy: Option<String>,
    pub priority_mode: Option<String>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub health_check_interval: Option<Duration>,
    pub health_check_mode: Option<String>,
    pub server_port: Option<u16>,
    pub server_host: Option<String>,
    pub upstream_url: Option<String>,
    pub upstream_api: Option<String>,
    pub grazie_agent: Option<Value>,
    pub models: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub first_byte_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub idle_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub request_timeout: Option<Duration>,
    pub max_attempts: Option<u32>,
    pub watch_config: Option<bool>,
    #[serde(default, deserialize_with = "opt_byte_size")]
    pub max_body_size: Option<u64>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub shutdown_grace: Option<Duration>,
    pub max_connections: Option<u32>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub client_header_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub client_body_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_duration")]
    pub client_idle_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "opt_byte_size")]
    pub max_header_size: Option<u64>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// One entry of `jetbrains_tokens`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(expecting = "a JSON object such as {\"token\": \"eyJ...\", \"name\": \"Primary_JWT\"}")]
pub struct FileToken {
    pub token: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub priority: Option<i64>,
    pub weight: Option<u32>,
    pub max_concurrency: Option<u32>,
    pub metadata: Option<Map<String, Value>>,
    pub enabled: Option<bool>,
    pub license_id: Option<String>,
    pub authorization: Option<String>,
    #[serde(flatten)]
    pub unknown: BTreeMap<String, Value>,
}

/// Reads and parses a config file, naming the file (and line and column, for JSON errors) in every error.
pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let file: FileConfig = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let at = err.path().to_string();
        let inner = err.into_inner();
        ConfigError::Parse {
            path: path.to_path_buf(),
            line: inner.line(),
            column: inner.column(),
            key: (at != "." && !at.is_empty()).then_some(at),
            message: strip_position(&inner.to_string()),
        }
    })?;
    de.end().map_err(|inner| ConfigError::Parse {
        path: path.to_path_buf(),
        line: inner.line(),
        column: inner.column(),
        key: None,
        message: strip_position(&inner.to_string()),
    })?;
    refuse_unknown_keys(&file, path)?;
    Ok(file)
}

fn refuse_unknown_keys(file: &FileConfig, path: &Path) -> Result<(), ConfigError> {
    let unknown_top = file
        .unknown
        .keys()
        .find(|k| !k.starts_with('_'))
        .map(|k| printable_key(k));
    let unknown_token = file
        .jetbrains_tokens
        .iter()
        .flatten()
        .enumerate()
        .find_map(|(i, t)| {
            t.unknown
                .keys()
                .find(|k| !k.starts_with('_'))
                .map(|k| format!("jetbrains_tokens[{i}].{}", printable_key(k)))
        });
    match unknown_top.or(unknown_token) {
        Some(key) => Err(ConfigError::UnknownKey {
            path: path.to_path_buf(),
            key,
        }),
        None => Ok(()),
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

/// A duration written as a humantime string (`"30s"`, `"1m 30s"`) or a number of seconds.
fn opt_duration<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Seconds(f64),
    }
    match Option::<Raw>::deserialize(de)? {
        None => Ok(None),
        Some(Raw::Text(text)) => parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(Raw::Seconds(secs)) if secs >= 0.0 => Duration::try_from_secs_f64(secs)
            .map(Some)
            .map_err(|_| {
                serde::de::Error::custom(format!(
                    "{secs} seconds is too long to be a duration; write a string such as \"30s\" or \"5m\""
                ))
            }),
        Some(Raw::Seconds(secs)) => Err(serde::de::Error::custom(format!(
            "{secs} is not a valid duration: use a non-negative number of seconds or a string such as \"30s\""
        ))),
    }
}

/// A size in bytes written as a number or a string with a unit (`"32MiB"`, `"10 MB"`).
fn opt_byte_size<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }
    match Option::<Raw>::deserialize(de)? {
        None => Ok(None),
        Some(Raw::Bytes(n)) => Ok(Some(n)),
        Some(Raw::Text(text)) => parse_byte_size(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|err| {
        format!("\"{text}\" is not a duration ({err}); write it like \"30s\", \"5m\" or \"1h 30m\"")
    })
}

pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| {
            format!(
                "\"{text}\" is not a size; write a number of bytes or a string such as \"32MiB\""
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            err.contains("health_check_interval") && err.contains("\"30s\""),
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
            err.contains("jetbrains_tokens: invalid type: a string, expected a sequence"),
            "{err}"
        );
        let err = parse_str(r#"{"bearer_token": 42}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bearer_token: invalid type: integer"), "{err}");
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        assert!(parse_str("{} {}").is_err());
    }
}
