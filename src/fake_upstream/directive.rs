//! The tool directive: how a test (or someone trying `serve --demo`) asks the fake for a tool call. Without one the
//! fake answers text even when tools are offered, as a model usually does; coding agents offer tools on every turn
//! and must see text unless a call is wanted.
//!
//! Written anywhere in the **last user message**:
//!
//! | directive | the fake answers |
//! |---|---|
//! | `[[tool]]` | a call to the first tool offered, arguments `{"input": <the message without the directive, trimmed>}` |
//! | `[[tool:NAME]]` | a call to the tool NAME, the same arguments |
//! | `[[tool:NAME {"city":"Paris"}]]` | a call to the tool NAME with these arguments (a JSON object) |
//!
//! NAME is the tool's name as the upstream sees it, or its last part after a namespace separator `__` or `.`
//! (`probe_nonce` finds `mcp__probe__probe_nonce`; `exec` finds `functions.exec`) when exactly one tool ends so. A directive the
//! fake cannot follow (no tools offered, no such tool, arguments that are not a JSON object) is answered with text
//! saying why, so a test fails on a readable message rather than on a missing call.

use serde_json::{Map, Value};

const OPEN: &str = "[[tool";
const CLOSE: &str = "]]";

/// A directive found in a message.
#[derive(Debug, PartialEq)]
pub(super) struct Directive {
    /// `None` for `[[tool]]`: the first tool offered.
    name: Option<String>,
    /// The JSON object given, if any.
    arguments: Option<Value>,
    /// The message with the directive cut out, trimmed: the default `input` argument.
    rest: String,
}

/// What the fake does about a directive: call `name` with `arguments`, or say why it cannot.
pub(super) type Resolved = Result<(String, String), String>;

/// The first directive in `text`, if any; a malformed one is an `Err` with the reason.
pub(super) fn find(text: &str) -> Option<Result<Directive, String>> {
    let start = text.find(OPEN)?;
    let after = &text[start + OPEN.len()..];
    let (name, inner_end) = if after.starts_with(CLOSE) {
        (None, 0)
    } else if let Some(spec) = after.strip_prefix(':') {
        let name_len = spec
            .find(|c: char| c.is_whitespace() || c == ']')
            .unwrap_or(spec.len());
        (Some(spec[..name_len].to_owned()), 1 + name_len)
    } else {
        // `[[toolbox]]` and the like: ordinary text.
        return None;
    };
    if name.as_deref() == Some("") {
        return Some(Err("[[tool:]] names no tool".into()));
    }
    let tail = &after[inner_end..];
    let trimmed = tail.trim_start();
    let (arguments, close_at) = if !trimmed.is_empty() && !trimmed.starts_with(CLOSE) {
        let offset = tail.len() - trimmed.len();
        let mut values = serde_json::Deserializer::from_str(trimmed).into_iter::<Value>();
        match values.next() {
            Some(Ok(value)) => (Some(value), offset + values.byte_offset()),
            Some(Err(err)) => {
                return Some(Err(format!(
                    "the directive's arguments are not JSON: {err}"
                )));
            }
            None => return Some(Err("the directive's arguments are missing".into())),
        }
    } else {
        (None, 0)
    };
    let Some(close) = tail[close_at..].trim_start().strip_prefix(CLOSE) else {
        return Some(Err("the directive does not end with ]]".into()));
    };
    let end = text.len() - close.len();
    let rest = format!("{}{}", &text[..start], &text[end..]);
    Some(Ok(Directive {
        name,
        arguments,
        rest: rest.trim().to_owned(),
    }))
}

impl Directive {
    /// The tool to call among those `offered` (in the order the request declared them) and the arguments as a JSON
    /// string, or why there is none.
    pub(super) fn resolve(&self, offered: &[String]) -> Resolved {
        if offered.is_empty() {
            return Err(
                "the directive asks for a tool call, but the request offers no tools".into(),
            );
        }
        let name = match &self.name {
            None => offered[0].clone(),
            Some(wanted) => pick(wanted, offered)?,
        };
        let arguments = match &self.arguments {
            Some(Value::Object(map)) => Value::Object(map.clone()),
            Some(other) => {
                return Err(format!(
                    "the directive's arguments must be a JSON object, not {other}"
                ));
            }
            None => Value::Object(Map::from_iter([(
                "input".to_owned(),
                Value::String(self.rest.clone()),
            )])),
        };
        Ok((name, arguments.to_string()))
    }
}

fn pick(wanted: &str, offered: &[String]) -> Result<String, String> {
    if let Some(exact) = offered.iter().find(|t| *t == wanted) {
        return Ok(exact.clone());
    }
    let namespaced: Vec<&String> = offered
        .iter()
        .filter(|t| {
            t.strip_suffix(wanted)
                .is_some_and(|prefix| prefix.ends_with("__") || prefix.ends_with('.'))
        })
        .collect();
    match namespaced.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(format!(
            "the directive asks for tool {wanted:?}, but the request offers only {offered:?}"
        )),
        many => Err(format!(
            "the directive's tool {wanted:?} is ambiguous: {many:?} all end with it"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn resolve(text: &str, offered: &[&str]) -> Resolved {
        find(text).expect("a directive")?.resolve(&tools(offered))
    }

    #[test]
    fn no_directive_means_text() {
        assert_eq!(find("call the weather tool please"), None);
        assert_eq!(find("[[toolbox]] is not one"), None);
    }

    #[test]
    fn the_first_tool_with_the_rest_of_the_message_as_input() {
        assert_eq!(
            resolve("[[tool]] Paris", &["get_weather", "get_time"]),
            Ok(("get_weather".into(), r#"{"input":"Paris"}"#.into()))
        );
        assert_eq!(
            resolve("Weather in  [[tool]]  Rome", &["get_weather"]),
            Ok((
                "get_weather".into(),
                r#"{"input":"Weather in    Rome"}"#.into()
            ))
        );
    }

    #[test]
    fn a_named_tool_exactly_or_by_its_last_part() {
        let offered = ["Agent", "mcp__probe__probe_nonce", "functions.exec"];
        assert_eq!(
            resolve("[[tool:mcp__probe__probe_nonce]] go", &offered).map(|r| r.0),
            Ok("mcp__probe__probe_nonce".into())
        );
        assert_eq!(
            resolve("[[tool:probe_nonce]]", &offered).map(|r| r.0),
            Ok("mcp__probe__probe_nonce".into())
        );
        assert_eq!(
            resolve("[[tool:exec]] text(1)", &offered),
            Ok(("functions.exec".into(), r#"{"input":"text(1)"}"#.into()))
        );
        // "nonce" is not a whole last part of any name.
        let err = resolve("[[tool:nonce]]", &offered).expect_err("no such tool");
        assert!(err.contains("offers only"), "{err}");
        let err = resolve("[[tool:exec]]", &["a.exec", "b__exec"]).expect_err("ambiguous");
        assert!(err.contains("ambiguous"), "{err}");
    }

    #[test]
    fn explicit_arguments_even_with_brackets_inside() {
        assert_eq!(
            resolve(
                r#"[[tool:get_weather {"city": "Paris", "days": [[1]]}]] thanks"#,
                &["get_weather"]
            ),
            Ok((
                "get_weather".into(),
                r#"{"city":"Paris","days":[[1]]}"#.into()
            ))
        );
        let err = resolve(r#"[[tool:t ["x"]]]"#, &["t"]).expect_err("array args");
        assert!(err.contains("JSON object"), "{err}");
    }

    #[test]
    fn directives_that_cannot_be_followed_say_why() {
        let err = resolve("[[tool]] hi", &[]).expect_err("no tools");
        assert!(err.contains("offers no tools"), "{err}");
        for bad in [
            "[[tool:]]",
            "[[tool:t {\"a\": }]]",
            "[[tool:t",
            "[[tool:t {\"a\":1} x]]",
        ] {
            assert!(matches!(find(bad), Some(Err(_))), "{bad}");
        }
    }
}
