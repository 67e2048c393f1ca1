//! The upstream's request parameters as they travel: `parameters.data`, the flat list of typed key/value pairs
//! (docs/UPSTREAM.md "Parameters"). The keys themselves, and which profile takes which, are `crate::profiles`.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};

use crate::profiles::{Kind, Param};

/// A parameter's value, typed as its key says.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Bool(bool),
    Int(i64),
    Double(f64),
    Text(Cow<'a, str>),
    /// A JSON document as text: the upstream wants it as a string.
    Json(Cow<'a, str>),
}

impl Value<'_> {
    fn kind(&self) -> Kind {
        match self {
            Value::Bool(_) => Kind::Bool,
            Value::Int(_) => Kind::Int,
            Value::Double(_) => Kind::Double,
            Value::Text(_) => Kind::Text,
            Value::Json(_) => Kind::Json,
        }
    }

    fn len(&self) -> usize {
        match self {
            Value::Text(text) | Value::Json(text) => text.len(),
            _ => 8,
        }
    }
}

/// `{"data": [key, value, key, value, …]}`: the parameters of one request. Serialized only when it holds at least
/// one pair (`{"data": null}` and an empty list are refused upstream).
#[derive(Debug, Default)]
pub struct Parameters<'a> {
    pairs: Vec<(Param, Value<'a>)>,
    /// v7 names the tools key differently.
    v7: bool,
}

impl<'a> Parameters<'a> {
    pub fn new(v7: bool) -> Self {
        Parameters {
            pairs: Vec::new(),
            v7,
        }
    }

    /// Adds a pair. A key is sent once: a second value for it replaces the first. A value of the wrong type for
    /// its key is a bug in the caller, caught in debug builds.
    pub fn set(&mut self, key: Param, value: Value<'a>) {
        debug_assert_eq!(key.kind(), value.kind(), "{key} takes {:?}", key.kind());
        match self.pairs.iter_mut().find(|(k, _)| *k == key) {
            Some(pair) => pair.1 = value,
            None => self.pairs.push((key, value)),
        }
        self.pairs.sort_by_key(|(k, _)| *k);
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    pub fn keys(&self) -> impl Iterator<Item = Param> + '_ {
        self.pairs.iter().map(|(k, _)| *k)
    }

    pub fn get(&self, key: Param) -> Option<&Value<'a>> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Bytes of the values, for sizing the body buffer.
    pub fn value_bytes(&self) -> usize {
        self.pairs.iter().map(|(_, v)| v.len()).sum()
    }
}

impl Serialize for Parameters<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut outer = serializer.serialize_struct("Parameters", 1)?;
        outer.serialize_field("data", &Pairs(self))?;
        outer.end()
    }
}

struct Pairs<'p, 'a>(&'p Parameters<'a>);

impl Serialize for Pairs<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.pairs.len() * 2))?;
        for (key, value) in &self.0.pairs {
            seq.serialize_element(&KeyObject {
                kind: key.kind().name(),
                fqdn: key.fqdn_for(self.0.v7),
            })?;
            seq.serialize_element(&ValueObject {
                value,
                modified: !self.0.v7,
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct KeyObject {
    #[serde(rename = "type")]
    kind: &'static str,
    fqdn: &'static str,
}

/// `{"type", "value", "modified": 0}`. JetBrains' v8 client writes `modified: 0` in every value (docs/UPSTREAM.md);
/// jbproxy does the same on v8, and leaves it out on v7 as the v7 peers do.
struct ValueObject<'v, 'a> {
    value: &'v Value<'a>,
    modified: bool,
}

impl Serialize for ValueObject<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_struct("Value", 3)?;
        map.serialize_field("type", self.value.kind().name())?;
        match self.value {
            Value::Bool(b) => map.serialize_field("value", b)?,
            Value::Int(n) => map.serialize_field("value", n)?,
            Value::Double(x) => map.serialize_field("value", x)?,
            Value::Text(text) | Value::Json(text) => map.serialize_field("value", text)?,
        }
        if self.modified {
            map.serialize_field("modified", &0)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pairs_are_flat_typed_and_stamped_zero() {
        let mut p = Parameters::new(false);
        p.set(Param::Temperature, Value::Double(0.7));
        p.set(Param::Tools, Value::Json("[]".into()));
        p.set(Param::ToolChoiceRequired, Value::Bool(true));
        p.set(Param::StopToken, Value::Text("END".into()));
        p.set(Param::Length, Value::Int(256));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"data": [
                {"type": "json", "fqdn": "llm.parameters.tools"},
                {"type": "json", "value": "[]", "modified": 0},
                {"type": "bool", "fqdn": "llm.parameters.tool-choice-required"},
                {"type": "bool", "value": true, "modified": 0},
                {"type": "double", "fqdn": "llm.parameters.temperature"},
                {"type": "double", "value": 0.7, "modified": 0},
                {"type": "int", "fqdn": "llm.parameters.length"},
                {"type": "int", "value": 256, "modified": 0},
                {"type": "text", "fqdn": "llm.parameters.stop-token"},
                {"type": "text", "value": "END", "modified": 0},
            ]})
        );
    }

    #[test]
    fn v7_names_the_tools_key_functions_and_stamps_nothing() {
        let mut p = Parameters::new(true);
        p.set(Param::Tools, Value::Json("[]".into()));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"data": [{"type": "json", "fqdn": "llm.parameters.functions"}, {"type": "json", "value": "[]"}]})
        );
    }
}
