//! Where in the file a JSON syntax error is, as a key path (`trailing comma after jetbrains_tokens[0]`): a forgiving
//! scan of the text up to the error, since serde_json reports only a line and column.

use super::looks_secret;

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
    use serde_json::Value;

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
}
