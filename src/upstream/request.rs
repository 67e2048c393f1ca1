//! What jbproxy POSTs upstream, as the upstream defines it: the chat endpoint's path for a profile, the body's
//! shape (`prompt`, `profile`, `chat.messages`, `parameters`), the message types of v8 and v7, and the tool
//! definitions inside the `tools` parameter (the parameters themselves: `super::parameters`). `translate::grazie`
//! fills these from a conversation; nothing here knows the client APIs.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

pub use super::parameters::Parameters;
use crate::config::UpstreamApi;
use crate::models::native::Family;

/// What to POST upstream.
#[derive(Debug)]
pub struct GrazieRequest {
    /// Path under the upstream base URL.
    pub path: &'static str,
    /// The serialized JSON body; shared, not copied, by each attempt of a failover.
    pub body: Bytes,
    /// Estimated prompt tokens (the upstream reports none).
    pub prompt_tokens: u32,
    /// The provider whose native route this goes to (its format, both ways), or `None` for JetBrains' own chat.
    pub native: Option<Family>,
}

impl GrazieRequest {
    /// A request for `family`'s native route, whose path and stream format follow from the family.
    pub fn native(family: Family, body: Bytes) -> Self {
        Self {
            path: super::native::path(family),
            body,
            // The upstream reports its own usage on these routes; no estimate is needed.
            prompt_tokens: 0,
            native: Some(family),
        }
    }
}

const PATH_V8: &str = "/user/v5/llm/chat/stream/v8";
const PATH_V7: &str = "/user/v5/llm/chat/stream/v7";
/// Codex profiles take the same body on the responses endpoint (unverified upstream behaviour, per the survey).
const PATH_RESPONSES: &str = "/user/v5/llm/responses/stream/v8";

/// The upstream path for a profile. A profile ending in `-codex` goes to the responses endpoint whatever the API
/// version, since that endpoint exists only as v8.
pub fn path_for(profile: &str, api: UpstreamApi) -> &'static str {
    if profile.ends_with("-codex") {
        PATH_RESPONSES
    } else {
        match api {
            UpstreamApi::V8 => PATH_V8,
            UpstreamApi::V7 => PATH_V7,
        }
    }
}

/// The prompt id every chat is sent under.
pub const PROMPT: &str = "ij.chat.request.new-chat-on-start";

/// The chat body. `M` serializes the message list (`translate` writes it straight from the conversation, without
/// collecting the messages first).
#[derive(Serialize)]
pub struct Body<'a, M> {
    pub prompt: &'static str,
    pub profile: &'a str,
    pub chat: ChatBody<M>,
    /// Omitted entirely without parameters, as JetBrains' client does: `{"data":null}` is refused with a 400.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters<'a>>,
}

#[derive(Serialize)]
pub struct ChatBody<M> {
    pub messages: M,
}

/// One upstream chat message, v8 and v7 types together; the mapping picks the ones of its API version.
#[derive(Serialize, Debug, PartialEq)]
#[serde(tag = "type")]
pub enum Message<'a> {
    #[serde(rename = "system_message")]
    System { content: Cow<'a, str> },
    #[serde(rename = "user_message")]
    User { content: &'a str },
    /// v8 only: an image, sent before the text about it.
    #[serde(rename = "media_message")]
    Media {
        #[serde(rename = "mediaType")]
        media_type: &'static str,
        data: &'a str,
    },
    /// v8 tool call.
    #[serde(rename = "assistant_message_tool")]
    AssistantTool {
        id: &'a str,
        #[serde(rename = "toolName")]
        tool_name: &'a str,
        content: &'a str,
    },
    /// v8 tool result.
    #[serde(rename = "tool_message")]
    ToolResult {
        id: &'a str,
        #[serde(rename = "toolName")]
        tool_name: &'a str,
        result: Cow<'a, str>,
    },
    /// Assistant text (v8 and v7: JetBrains' own v8 client writes assistant text only as `assistant_message`;
    /// `assistant_message_text` is the peers' spelling), or, v7 only, one tool call (`content` empty).
    #[serde(rename = "assistant_message")]
    Assistant {
        content: Cow<'a, str>,
        #[serde(rename = "functionCall", skip_serializing_if = "Option::is_none")]
        function_call: Option<FunctionCall<'a>>,
    },
    /// v7 tool result.
    #[serde(rename = "function_message")]
    Function {
        content: Cow<'a, str>,
        #[serde(rename = "functionName")]
        function_name: &'a str,
    },
}

#[derive(Serialize, Debug, PartialEq)]
pub struct FunctionCall<'a> {
    #[serde(rename = "functionName")]
    pub function_name: &'a str,
    pub content: &'a str,
}

impl Message<'_> {
    /// Text bytes the model reads, for the prompt estimate.
    pub fn text_len(&self) -> usize {
        match self {
            Message::System { content } => content.len(),
            Message::User { content } => content.len(),
            Message::Media { .. } => 0,
            Message::AssistantTool {
                tool_name, content, ..
            } => tool_name.len() + content.len(),
            Message::ToolResult { result, .. } => result.len(),
            Message::Assistant {
                content,
                function_call,
            } => {
                content.len()
                    + function_call
                        .as_ref()
                        .map_or(0, |f| f.function_name.len() + f.content.len())
            }
            Message::Function { content, .. } => content.len(),
        }
    }
}

/// One function the model may call, as the upstream's tool list describes it.
#[derive(Debug, Clone, Copy)]
pub struct ToolDef<'a> {
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub schema: Option<&'a Map<String, Value>>,
}

/// JetBrains' client writes `description` always, `null` when there is none.
#[derive(Serialize)]
struct V8Tool<'a> {
    name: &'a str,
    description: Option<&'a str>,
    parameters: V8Schema<'a>,
}

#[derive(Serialize)]
struct V8Schema<'a> {
    schema: Stripped<'a>,
}

#[derive(Serialize)]
struct V7Tool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    parameters: Stripped<'a>,
}

/// The tool list as the JSON *string* the upstream wants inside `parameters`: v8 wraps each schema in
/// `{"schema": …}`, v7 sends OpenAI function objects. JSON-Schema keys starting with `$` are removed at every depth
/// (Gemini profiles reject them).
pub fn tools_json<'a>(
    tools: impl Iterator<Item = ToolDef<'a>>,
    api: UpstreamApi,
) -> serde_json::Result<String> {
    match api {
        UpstreamApi::V8 => serde_json::to_string(
            &tools
                .map(|d| V8Tool {
                    name: d.name,
                    description: d.description,
                    parameters: V8Schema {
                        schema: Stripped::Schema(d.schema),
                    },
                })
                .collect::<Vec<_>>(),
        ),
        UpstreamApi::V7 => serde_json::to_string(
            &tools
                .map(|d| V7Tool {
                    name: d.name,
                    description: d.description,
                    parameters: Stripped::Schema(d.schema),
                })
                .collect::<Vec<_>>(),
        ),
    }
}

/// Serializes a JSON Schema without any object key that starts with `$`, at any depth, without copying it.
/// No schema (a function without parameters) becomes the empty object schema, which every upstream model accepts.
#[derive(Clone, Copy)]
enum Stripped<'a> {
    Schema(Option<&'a Map<String, Value>>),
    Value(&'a Value),
}

impl Serialize for Stripped<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let object = match *self {
            Stripped::Schema(None) => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("type", "object")?;
                map.serialize_entry("properties", &Map::new())?;
                return map.end();
            }
            Stripped::Schema(Some(object)) | Stripped::Value(Value::Object(object)) => object,
            Stripped::Value(Value::Array(items)) => {
                return serializer.collect_seq(items.iter().map(Stripped::Value));
            }
            Stripped::Value(other) => return other.serialize(serializer),
        };
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in object.iter().filter(|(key, _)| !key.starts_with('$')) {
            map.serialize_entry(key, &Stripped::Value(value))?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    #[test]
    fn dollar_keys_are_stripped_at_every_depth() {
        let schema = object(json!({
            "$schema": "http://json-schema.org/draft-07/schema#", "$id": "x", "type": "object",
            "$defs": {"a": {"type": "string"}},
            "properties": {"list": {"type": "array", "items": [{"$ref": "#/$defs/a", "type": "string",
                "properties": {"deep": {"$comment": "c", "type": "integer"}}}]}},
            "required": ["list"]
        }));
        let stripped = serde_json::to_value(Stripped::Schema(Some(&schema))).unwrap();
        assert_eq!(
            stripped,
            json!({"type":"object","properties":{"list":{"type":"array","items":[{"type":"string",
                   "properties":{"deep":{"type":"integer"}}}]}},"required":["list"]})
        );
        assert!(!serde_json::to_string(&stripped).unwrap().contains('$'));
    }

    #[test]
    fn missing_parameters_become_an_empty_object_schema() {
        assert_eq!(
            serde_json::to_value(Stripped::Schema(None)).unwrap(),
            json!({"type":"object","properties":{}})
        );
    }

    #[test]
    fn v8_wraps_the_schema_and_v7_uses_openai_function_objects() {
        let schema = object(json!({"type":"object","$schema":"s"}));
        let def = ToolDef {
            name: "f",
            description: Some("d"),
            schema: Some(&schema),
        };
        let v8: Value =
            serde_json::from_str(&tools_json([def].into_iter(), UpstreamApi::V8).unwrap()).unwrap();
        assert_eq!(
            v8,
            json!([{"name":"f","description":"d","parameters":{"schema":{"type":"object"}}}])
        );
        let v7: Value =
            serde_json::from_str(&tools_json([def].into_iter(), UpstreamApi::V7).unwrap()).unwrap();
        assert_eq!(
            v7,
            json!([{"name":"f","description":"d","parameters":{"type":"object"}}])
        );
    }

    #[test]
    fn paths() {
        assert_eq!(
            path_for("openai-gpt-4o", UpstreamApi::V8),
            "/user/v5/llm/chat/stream/v8"
        );
        assert_eq!(
            path_for("openai-gpt-4o", UpstreamApi::V7),
            "/user/v5/llm/chat/stream/v7"
        );
        assert_eq!(
            path_for("openai-gpt-5-1-codex", UpstreamApi::V8),
            "/user/v5/llm/responses/stream/v8"
        );
    }
}
