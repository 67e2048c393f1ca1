//! Config mistakes in the user's words: where in the file a JSON syntax error is (a key path, never serde's `?`),
//! what a wrong value should have been (never a Rust type such as `u16`), and which known key an unknown one was
//! probably meant to be.

use serde_json::Value;

/// Every top-level key of the config file, for "did you mean" (a test checks it against what the parser accepts).
pub const TOP_LEVEL_KEYS: [&str; 29] = [
    "jetbrains_tokens",
    "bearer_token",
    "admin_token",
    "load_balance_strategy",
    "priority_mode",
    "health_check_interval",
    "health_check_mode",
    "server_port",
    "server_host",
    "upstream_url",
    "upstream_api",
    "grazie_agent",
    "models",
    "profile_parameters",
    "connect_timeout",
    "first_byte_timeout",
    "idle_timeout",
    "request_timeout",
    "max_attempts",
    "watch_config",
    "max_body_size",
    "shutdown_grace",
    "max_connections",
    "client_header_timeout",
    "client_body_timeout",
    "client_idle_timeout",
    "max_header_size",
    // Not keys, but what someone who knows the environment variables may write: suggested as the real key.
    "jwt_tokens",
    "jwt_token",
];

/// Every key of a `jetbrains_tokens` entry.
pub const TOKEN_KEYS: [&str; 10] = [
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

/// A JSON syntax error rephrased, with where it is as a key path: `trailing comma after jetbrains_tokens[0]`.
/// `offset` is the byte just past the character the parser stopped at.
pub fn syntax_error(text: &str, offset: usize, message: &str, is_eof: bool) -> String {
    let end = offset.saturating_sub(1).min(text.len());
    let stack = scan(text.as_bytes(), end);
    if is_eof {
        return match stack.last() {
            None => "the file is empty; it should hold a JSON object such as {\"jetbrains_tokens\": [...]}"
                .into(),
            Some(frame) => {
                let closer = match frame {
                    Frame::Object { .. } => '}',
                    Frame::Array { .. } => ']',
                };
                let open = stack.len() - 1;
                let what = match path(&stack[..open]) {
                    p if p.is_empty() => "the top-level object".to_string(),
                    p => p,
                };
                format!("the file ends before {what} is closed (a `{closer}` is missing)")
            }
        };
    }
    let message = match message {
        "trailing characters" => "unexpected text after the end of the JSON object",
        other => other,
    };
    match where_in(&stack) {
        Some(place) => format!("{message} {place}"),
        None => message.to_string(),
    }
}

/// An open container while scanning: which member is being read and which was read last.
#[derive(Debug)]
enum Frame {
    Object {
        current: Option<String>,
        last_done: Option<String>,
        awaiting_value: bool,
    },
    Array {
        next: usize,
        current: Option<usize>,
        last_done: Option<usize>,
    },
}

/// The containers open at `end`, outermost first. A forgiving scan: it only has to be right up to the first error.
fn scan(bytes: &[u8], end: usize) -> Vec<Frame> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < end {
        match bytes[i] {
            b'{' | b'[' => {
                value_started(&mut stack);
                stack.push(if bytes[i] == b'{' {
                    Frame::Object {
                        current: None,
                        last_done: None,
                        awaiting_value: false,
                    }
                } else {
                    Frame::Array {
                        next: 0,
                        current: None,
                        last_done: None,
                    }
                });
            }
            b'}' | b']' => {
                stack.pop();
                value_done(&mut stack);
            }
            b'"' => {
                let start = i + 1;
                i = start;
                while i < end && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let text = String::from_utf8_lossy(&bytes[start..i.min(end)]).into_owned();
                match stack.last_mut() {
                    Some(Frame::Object {
                        current,
                        awaiting_value: false,
                        ..
                    }) => *current = Some(text),
                    _ => {
                        value_started(&mut stack);
                        value_done(&mut stack);
                    }
                }
            }
            b':' => {
                if let Some(Frame::Object { awaiting_value, .. }) = stack.last_mut() {
                    *awaiting_value = true;
                }
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object { current, .. }) => *current = None,
                Some(Frame::Array { next, current, .. }) => {
                    *next += 1;
                    *current = None;
                }
                None => {}
            },
            b if b.is_ascii_whitespace() => {}
            _ => {
                while i + 1 < end && !b",:]}\"{[ \t\r\n".contains(&bytes[i + 1]) {
                    i += 1;
                }
                value_started(&mut stack);
                value_done(&mut stack);
            }
        }
        i += 1;
    }
    stack
}

fn value_started(stack: &mut [Frame]) {
    if let Some(Frame::Array { next, current, .. }) = stack.last_mut() {
        *current = Some(*next);
    }
}

fn value_done(stack: &mut [Frame]) {
    match stack.last_mut() {
        Some(Frame::Object {
            current,
            last_done,
            awaiting_value,
        }) => {
            *last_done = current.take();
            *awaiting_value = false;
        }
        Some(Frame::Array {
            current, last_done, ..
        }) => *last_done = current.take(),
        None => {}
    }
}

/// `after KEY`, `at KEY` or `in KEY`: the innermost place the scan knows about.
fn where_in(stack: &[Frame]) -> Option<String> {
    let (top, parents) = stack.split_last()?;
    let base = path(parents);
    let member = |step: String| join(&base, &step);
    let place = match top {
        Frame::Object {
            current: Some(k), ..
        } => format!("at {}", member(key_step(k))),
        Frame::Array {
            current: Some(i), ..
        } => format!("at {}", member(format!("[{i}]"))),
        Frame::Object {
            last_done: Some(k), ..
        } => format!("after {}", member(key_step(k))),
        Frame::Array {
            last_done: Some(i), ..
        } => format!("after {}", member(format!("[{i}]"))),
        _ if base.is_empty() => return None,
        _ => format!("in {base}"),
    };
    Some(place)
}

/// The key path of the members being read in these frames: `jetbrains_tokens[0].metadata`.
fn path(frames: &[Frame]) -> String {
    frames.iter().fold(String::new(), |acc, frame| match frame {
        Frame::Object {
            current: Some(k), ..
        } => join(&acc, &key_step(k)),
        Frame::Array {
            current: Some(i), ..
        } => join(&acc, &format!("[{i}]")),
        _ => acc,
    })
}

fn key_step(key: &str) -> String {
    if looks_secret(key) {
        format!("<a {}-character key>", key.chars().count())
    } else {
        key.to_string()
    }
}

fn join(base: &str, step: &str) -> String {
    if base.is_empty() || step.starts_with('[') {
        format!("{base}{step}")
    } else {
        format!("{base}.{step}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What serde_json says about `text`, rephrased the way the loader does.
    fn explain(text: &str) -> String {
        let err = serde_json::from_str::<Value>(text).expect_err("broken JSON");
        let start_of_line: usize = text
            .split_inclusive('\n')
            .take(err.line().saturating_sub(1))
            .map(str::len)
            .sum();
        let message = err.to_string();
        let message = &message[..message.rfind(" at line ").unwrap_or(message.len())];
        syntax_error(
            text,
            start_of_line + err.column(),
            message,
            err.classify() == serde_json::error::Category::Eof,
        )
    }

    #[test]
    fn syntax_errors_name_the_key_path_without_question_marks() {
        let cases = [
            (
                "{\"jetbrains_tokens\": [{\"token\": \"a\"},\n  ]}",
                "trailing comma after jetbrains_tokens[0]",
            ),
            (
                r#"{"jetbrains_tokens": [{"token": "a",}]}"#,
                "trailing comma after jetbrains_tokens[0].token",
            ),
            (
                r#"{"server_port": 8080,}"#,
                "trailing comma after server_port",
            ),
            (
                r#"{"jetbrains_tokens": [{"token": "a" "name": "b"}]}"#,
                "expected `,` or `}` after jetbrains_tokens[0].token",
            ),
            (
                r#"{"jetbrains_tokens": [{"token":"a","metadata":{"r":1,}}]}"#,
                "trailing comma after jetbrains_tokens[0].metadata.r",
            ),
            (r#"{"server_port" 8080}"#, "expected `:` at server_port"),
            (r#"{"models": {"a": }}"#, "expected value at models.a"),
            (
                "{\"jetbrains_tokens\": [{\"token\": \"a\"}\n",
                "the file ends before jetbrains_tokens is closed (a `]` is missing)",
            ),
            (
                "{\"server_port\": 1",
                "the file ends before the top-level object is closed (a `}` is missing)",
            ),
            ("", "the file is empty"),
            ("{} x", "unexpected text after the end of the JSON object"),
        ];
        for (text, want) in cases {
            let got = explain(text);
            assert!(
                got.starts_with(want),
                "{text:?}\n  got: {got}\n want: {want}"
            );
            assert!(!got.contains('?'), "{got}");
        }
    }

    #[test]
    fn a_pasted_token_in_a_key_is_not_echoed() {
        let got = explain(r#"{"eyJhbGciOi.eyJzdWIi.c2ln": 1,}"#);
        assert!(!got.contains("eyJ"), "{got}");
        assert!(got.contains("character key"), "{got}");
    }

    #[test]
    fn suggestions_are_close_or_absent() {
        let top = &TOP_LEVEL_KEYS[..];
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
