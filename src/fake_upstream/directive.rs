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
//! | `[[tools]]` | a call to every tool offered at once (parallel calls), each with the same arguments |
//!
//! NAME is the tool's name as the upstream sees it, or its last part after a namespace separator `__` or `.`
//! (`probe_nonce` finds `mcp__probe__probe_nonce`; `exec` finds `functions.exec`) when exactly one tool ends so. A directive the
//! fake cannot follow (no tools offered, no such tool, arguments that are not a JSON object) is answered with text
//! saying why, so a test fails on a readable message rather than on a missing call. The parameters have the last
//! word (`reply`): `tool-choice-none` makes any directive text, `parallel-tool-calls: false` cuts `[[tools]]` to one.

use serde_json::{Map, Value};

const OPEN: &str = "[[tool";
const CLOSE: &str = "]]";

/// Which tools a directive calls.
#[derive(Debug, PartialEq)]
enum Target {
    /// `[[tool]]`: the first tool offered.
    First,
    /// `[[tool:NAME]]`.
    Named(String),
    /// `[[tools]]`: every tool offered.
    Every,
}

/// A directive found in a message.
#[derive(Debug, PartialEq)]
pub(super) struct Directive {
    target: Target,
    /// The JSON object given, if any.
    arguments: Option<Value>,
    /// The message with the directive cut out, trimmed: the default `input` argument.
    rest: String,
}

/// What the fake does about a directive: the calls to make, `(name, arguments)` each, or why it cannot.
pub(super) type Resolved = Result<Vec<(String, String)>, String>;

/// The first directive in `text`, if any; a malformed one is an `Err` with the reason.
pub(super) fn find(text: &str) -> Option<Result<Directive, String>> {
    let start = text.find(OPEN)?;
    let after = &text[start + OPEN.len()..];
    let every = after
        .strip_prefix('s')
        .filter(|rest| rest.starts_with(CLOSE) || rest.starts_with(char::is_whitespace));
    let (target, inner_end) = if after.starts_with(CLOSE) {
        (Target::First, 0)
    } else if every.is_some() {
        (Target::Every, 1)
    } else if let Some(spec) = after.strip_prefix(':') {
        let name_len = spec
            .find(|c: char| c.is_whitespace() || c == ']')
            .unwrap_or(spec.len());
        if name_len == 0 {
            return Some(Err("[[tool:]] names no tool".into()));
        }
        (Target::Named(spec[..name_len].to_owned()), 1 + name_len)
    } else {
        // `[[toolbox]]` and the like: ordinary text.
        return None;
    };
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
        target,
        arguments,
        rest: rest.trim().to_owned(),
    }))
}

impl Directive {
    /// The message without the directive, trimmed: the default `input` argument.
    pub(super) fn rest(&self) -> &str {
        &self.rest
    }

    /// The tools to call among those `offered` (in the order the request declared them), each with the arguments as
    /// a JSON string, or why there are none.
    pub(super) fn resolve(&self, offered: &[String]) -> Resolved {
        if offered.is_empty() {
            return Err(
                "the directive asks for a tool call, but the request offers no tools".into(),
            );
        }
        let names = match &self.target {
            Target::First => vec![offered[0].clone()],
            Target::Named(wanted) => vec![pick(wanted, offered)?],
            Target::Every => offered.to_vec(),
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
        let arguments = arguments.to_string();
        Ok(names
            .into_iter()
            .map(|name| (name, arguments.clone()))
            .collect())
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

    /// The one call a directive makes.
    fn resolve(text: &str, offered: &[&str]) -> Result<(String, String), String> {
        let mut calls = find(text).expect("a directive")?.resolve(&tools(offered))?;
        assert_eq!(calls.len(), 1, "{calls:?}");
        Ok(calls.remove(0))
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
    fn every_tool_at_once() {
        let calls = find("[[tools]] Paris")
            .expect("a directive")
            .and_then(|d| d.resolve(&tools(&["get_weather", "get_time"])));
        assert_eq!(
            calls,
            Ok(vec![
                ("get_weather".into(), r#"{"input":"Paris"}"#.into()),
                ("get_time".into(), r#"{"input":"Paris"}"#.into()),
            ])
        );
        let calls = find(r#"[[tools {"city": "Rome"}]]"#)
            .expect("a directive")
            .and_then(|d| d.resolve(&tools(&["a", "b"])));
        assert_eq!(
            calls.map(|c| c.into_iter().map(|(_, args)| args).collect::<Vec<_>>()),
            Ok(vec![r#"{"city":"Rome"}"#.to_string(); 2])
        );
        assert_eq!(find("[[toolset]] is not one"), None);
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
