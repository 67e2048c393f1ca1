//! The client's tool definitions → the upstream `parameters` entry: v8 `llm.parameters.tools` with each schema under
//! `parameters.schema`, v7 `llm.parameters.functions` with OpenAI function objects. Either way the list travels as a
//! JSON *string*, and JSON-Schema keys starting with `$` are removed at every depth (Gemini profiles reject them).

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::TranslateError;
use crate::config::UpstreamApi;

/// `{"data":[{marker}, {value}]}`.
#[derive(serde::Serialize, Debug)]
pub(super) struct Parameters {
    data: (Marker, Entry),
}

#[derive(serde::Serialize, Debug)]
struct Marker {
    #[serde(rename = "type")]
    kind: &'static str,
    fqdn: &'static str,
}

#[derive(serde::Serialize, Debug)]
struct Entry {
    #[serde(rename = "type")]
    kind: &'static str,
    value: String,
    /// v8 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    modified: Option<i64>,
}

pub(super) fn parameters(value: String, api: UpstreamApi, now_ms: i64) -> Parameters {
    let (fqdn, modified) = match api {
        UpstreamApi::V8 => ("llm.parameters.tools", Some(now_ms)),
        UpstreamApi::V7 => ("llm.parameters.functions", None),
    };
    Parameters {
        data: (
            Marker { kind: "json", fqdn },
            Entry {
                kind: "json",
                value,
                modified,
            },
        ),
    }
}

#[derive(serde::Serialize)]
struct V8Tool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    parameters: V8Schema<'a>,
}

#[derive(serde::Serialize)]
struct V8Schema<'a> {
    schema: Stripped<'a>,
}

#[derive(serde::Serialize)]
struct V7Tool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    parameters: Stripped<'a>,
}

/// The tool list as the JSON string the upstream wants, or `None` when there are no tools (then `parameters` is
/// omitted). Only `function` tools exist upstream; anything else is rejected rather than silently dropped.
pub(super) fn value(
    tools: Option<&[Value]>,
    api: UpstreamApi,
) -> Result<Option<String>, TranslateError> {
    let tools = match tools {
        None | Some([]) => return Ok(None),
        Some(tools) => tools,
    };
    let mut defs = Vec::with_capacity(tools.len());
    for (i, tool) in tools.iter().enumerate() {
        defs.push(definition(tool, &format!("tools[{i}]"))?);
    }
    let result = match api {
        UpstreamApi::V8 => serde_json::to_string(
            &defs
                .iter()
                .map(|d| V8Tool {
                    name: d.name,
                    description: d.description,
                    parameters: V8Schema { schema: d.schema },
                })
                .collect::<Vec<_>>(),
        ),
        UpstreamApi::V7 => serde_json::to_string(
            &defs
                .iter()
                .map(|d| V7Tool {
                    name: d.name,
                    description: d.description,
                    parameters: d.schema,
                })
                .collect::<Vec<_>>(),
        ),
    };
    result.map(Some).map_err(|e| TranslateError {
        message: format!("could not serialize the tools: {e}"),
        param: Some("tools".into()),
    })
}

struct Definition<'a> {
    name: &'a str,
    description: Option<&'a str>,
    schema: Stripped<'a>,
}

fn definition<'a>(tool: &'a Value, at: &str) -> Result<Definition<'a>, TranslateError> {
    if !tool.is_object() {
        return Err(TranslateError::at(at, "must be an object"));
    }
    match tool.get("type").and_then(Value::as_str) {
        Some("function") => {}
        Some(other) => {
            return Err(TranslateError::at(
                format!("{at}.type"),
                format!(
                    "unsupported tool type {:?}; only \"function\" tools are supported",
                    super::truncate(other)
                ),
            ));
        }
        None => {
            return Err(TranslateError::at(
                format!("{at}.type"),
                "is required (\"function\")",
            ));
        }
    }
    let Some(function) = tool.get("function").filter(|f| f.is_object()) else {
        return Err(TranslateError::at(
            format!("{at}.function"),
            "is required (an object)",
        ));
    };
    let name = match function.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name.as_str(),
        _ => {
            return Err(TranslateError::at(
                format!("{at}.function.name"),
                "is required (a non-empty string)",
            ));
        }
    };
    let description = function.get("description").and_then(Value::as_str);
    let schema = match function.get("parameters") {
        None | Some(Value::Null) => Stripped(None),
        Some(schema @ Value::Object(_)) => Stripped(Some(schema)),
        Some(_) => {
            return Err(TranslateError::at(
                format!("{at}.function.parameters"),
                "must be a JSON Schema object",
            ));
        }
    };
    Ok(Definition {
        name,
        description,
        schema,
    })
}

/// Serializes a JSON Schema without any object key that starts with `$`, at any depth, without copying it.
/// `None` (a function without parameters) becomes the empty object schema, which every upstream model accepts.
#[derive(Clone, Copy)]
struct Stripped<'a>(Option<&'a Value>);

impl Serialize for Stripped<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => {
                let mut map = serializer.serialize_map(Some(2))?;
                map.serialize_entry("type", "object")?;
                map.serialize_entry("properties", &serde_json::Map::new())?;
                map.end()
            }
            Some(Value::Object(object)) => {
                let mut map = serializer.serialize_map(None)?;
                for (key, value) in object.iter().filter(|(key, _)| !key.starts_with('$')) {
                    map.serialize_entry(key, &Stripped(Some(value)))?;
                }
                map.end()
            }
            Some(Value::Array(items)) => {
                serializer.collect_seq(items.iter().map(|v| Stripped(Some(v))))
            }
            Some(other) => other.serialize(serializer),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Option<String>) -> Value {
        serde_json::from_str(&value.unwrap()).unwrap()
    }

    #[test]
    fn dollar_keys_are_stripped_at_every_depth() {
        let schema = json!({
            "$schema": "http://json-schema.org/draft-07/schema#", "$id": "x", "type": "object",
            "$defs": {"a": {"type": "string"}},
            "properties": {"list": {"type": "array", "items": [{"$ref": "#/$defs/a", "type": "string",
                "properties": {"deep": {"$comment": "c", "type": "integer"}}}]}},
            "required": ["list"]
        });
        let stripped = serde_json::to_value(Stripped(Some(&schema))).unwrap();
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
            serde_json::to_value(Stripped(None)).unwrap(),
            json!({"type":"object","properties":{}})
        );
    }

    #[test]
    fn no_tools_is_none() {
        assert_eq!(value(None, UpstreamApi::V8), Ok(None));
        assert_eq!(value(Some(&[]), UpstreamApi::V8), Ok(None));
    }

    #[test]
    fn v8_wraps_the_schema() {
        let tools = [
            json!({"type":"function","function":{"name":"f","description":"d",
                                   "parameters":{"type":"object","$schema":"s"}}}),
        ];
        assert_eq!(
            parse(value(Some(&tools), UpstreamApi::V8).unwrap()),
            json!([{"name":"f","description":"d","parameters":{"schema":{"type":"object"}}}])
        );
    }

    #[test]
    fn v7_uses_openai_function_objects() {
        let tools = [
            json!({"type":"function","function":{"name":"f","parameters":{"type":"object","$id":"i"}}}),
        ];
        assert_eq!(
            parse(value(Some(&tools), UpstreamApi::V7).unwrap()),
            json!([{"name":"f","parameters":{"type":"object"}}])
        );
    }

    #[test]
    fn invalid_tools_name_the_field() {
        let cases = [
            (
                json!({"type":"function","function":{"description":"no name"}}),
                "tools[0].function.name",
            ),
            (
                json!({"type":"function","function":{"name":""}}),
                "tools[0].function.name",
            ),
            (json!({"type":"function"}), "tools[0].function"),
            (json!({"type":"web_search"}), "tools[0].type"),
            (json!({"function":{"name":"f"}}), "tools[0].type"),
            (
                json!({"type":"function","function":{"name":"f","parameters":"x"}}),
                "tools[0].function.parameters",
            ),
            (json!("f"), "tools[0]"),
        ];
        for (tool, param) in cases {
            let err = value(Some(std::slice::from_ref(&tool)), UpstreamApi::V8).unwrap_err();
            assert_eq!(err.param.as_deref(), Some(param), "{tool}");
            assert!(err.message.starts_with(param), "{err}");
        }
    }

    #[test]
    fn parameters_entry_shapes() {
        let v8 =
            serde_json::to_value(parameters("[]".into(), UpstreamApi::V8, 1756630000000)).unwrap();
        assert_eq!(
            v8,
            json!({"data":[{"type":"json","fqdn":"llm.parameters.tools"},
                           {"type":"json","value":"[]","modified":1756630000000_i64}]})
        );
        let v7 = serde_json::to_value(parameters("[]".into(), UpstreamApi::V7, 1)).unwrap();
        assert_eq!(
            v7,
            json!({"data":[{"type":"json","fqdn":"llm.parameters.functions"},{"type":"json","value":"[]"}]})
        );
    }
}
