//! The upstream's request parameters (`llm.parameters.*`, docs/UPSTREAM.md "Parameters"): every key JetBrains'
//! own client defines for v8 chat, the type each key's value has, and `parameters.data`, the flat list of key/value
//! pairs they travel in. Which profile takes which key is data (`crate::profiles`), not decided here.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};

/// One upstream parameter key. The order is the order pairs are sent in (tools first, as JetBrains' client does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Param {
    Tools,
    ToolChoiceAuto,
    ToolChoiceNone,
    ToolChoiceRequired,
    ToolChoiceNamed,
    ParallelToolCalls,
    Temperature,
    TopP,
    TopK,
    Length,
    StopToken,
    Seed,
    NumberOfChoices,
    ResponseFormat,
    ReasoningEffort,
    Verbosity,
    ThinkingBudget,
    PredictedOutput,
}

/// The type tag a key and its value carry (`{"type": "double", …}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Double,
    Text,
    /// A JSON document sent as a string.
    Json,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Double => "double",
            Kind::Text => "text",
            Kind::Json => "json",
        }
    }
}

/// The prefix every key's fqdn starts with.
pub const FQDN_PREFIX: &str = "llm.parameters.";

impl Param {
    pub const ALL: [Param; 18] = [
        Param::Tools,
        Param::ToolChoiceAuto,
        Param::ToolChoiceNone,
        Param::ToolChoiceRequired,
        Param::ToolChoiceNamed,
        Param::ParallelToolCalls,
        Param::Temperature,
        Param::TopP,
        Param::TopK,
        Param::Length,
        Param::StopToken,
        Param::Seed,
        Param::NumberOfChoices,
        Param::ResponseFormat,
        Param::ReasoningEffort,
        Param::Verbosity,
        Param::ThinkingBudget,
        Param::PredictedOutput,
    ];

    /// The key's name after `llm.parameters.` (`top-p`); also how the profile table and the config name it.
    pub fn name(self) -> &'static str {
        match self {
            Param::Tools => "tools",
            Param::ToolChoiceAuto => "tool-choice-auto",
            Param::ToolChoiceNone => "tool-choice-none",
            Param::ToolChoiceRequired => "tool-choice-required",
            Param::ToolChoiceNamed => "tool-choice-named",
            Param::ParallelToolCalls => "parallel-tool-calls",
            Param::Temperature => "temperature",
            Param::TopP => "top-p",
            Param::TopK => "top-k",
            Param::Length => "length",
            Param::StopToken => "stop-token",
            Param::Seed => "seed",
            Param::NumberOfChoices => "number-of-choices",
            Param::ResponseFormat => "response-format",
            Param::ReasoningEffort => "reasoning-effort",
            Param::Verbosity => "verbosity",
            Param::ThinkingBudget => "thinking-budget",
            Param::PredictedOutput => "predicted-output",
        }
    }

    /// The full key (`llm.parameters.top-p`). v7 calls the tools key `functions`: see [`Param::fqdn_for`].
    pub fn fqdn(self) -> &'static str {
        match self {
            Param::Tools => "llm.parameters.tools",
            Param::ToolChoiceAuto => "llm.parameters.tool-choice-auto",
            Param::ToolChoiceNone => "llm.parameters.tool-choice-none",
            Param::ToolChoiceRequired => "llm.parameters.tool-choice-required",
            Param::ToolChoiceNamed => "llm.parameters.tool-choice-named",
            Param::ParallelToolCalls => "llm.parameters.parallel-tool-calls",
            Param::Temperature => "llm.parameters.temperature",
            Param::TopP => "llm.parameters.top-p",
            Param::TopK => "llm.parameters.top-k",
            Param::Length => "llm.parameters.length",
            Param::StopToken => "llm.parameters.stop-token",
            Param::Seed => "llm.parameters.seed",
            Param::NumberOfChoices => "llm.parameters.number-of-choices",
            Param::ResponseFormat => "llm.parameters.response-format",
            Param::ReasoningEffort => "llm.parameters.reasoning-effort",
            Param::Verbosity => "llm.parameters.verbosity",
            Param::ThinkingBudget => "llm.parameters.thinking-budget",
            Param::PredictedOutput => "llm.parameters.predicted-output",
        }
    }

    /// The key as sent on `api`: v7 carries tools as `llm.parameters.functions`.
    pub fn fqdn_for(self, v7: bool) -> &'static str {
        match (self, v7) {
            (Param::Tools, true) => "llm.parameters.functions",
            (other, _) => other.fqdn(),
        }
    }

    /// The value type JetBrains' client gives the key (`client/llm_parameters.py`, `client/v8/llm_parameters.py`).
    pub fn kind(self) -> Kind {
        match self {
            Param::ToolChoiceAuto
            | Param::ToolChoiceNone
            | Param::ToolChoiceRequired
            | Param::ParallelToolCalls => Kind::Bool,
            Param::TopK
            | Param::Length
            | Param::Seed
            | Param::NumberOfChoices
            | Param::ThinkingBudget => Kind::Int,
            Param::Temperature | Param::TopP => Kind::Double,
            Param::ToolChoiceNamed
            | Param::StopToken
            | Param::ReasoningEffort
            | Param::Verbosity
            | Param::PredictedOutput => Kind::Text,
            Param::Tools | Param::ResponseFormat => Kind::Json,
        }
    }

    /// A key by its name or its fqdn (`top-p`, `llm.parameters.top-p`; v7's `functions` is `tools`).
    pub fn parse(name: &str) -> Option<Param> {
        let short = name.strip_prefix(FQDN_PREFIX).unwrap_or(name);
        let short = if short == "functions" { "tools" } else { short };
        Param::ALL.into_iter().find(|p| p.name() == short)
    }

    /// Every name, for an error message that lists what is valid.
    pub fn names() -> String {
        Param::ALL
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of keys, small enough to copy around.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct ParamSet(u32);

impl ParamSet {
    pub const EMPTY: ParamSet = ParamSet(0);

    pub fn all() -> Self {
        Param::ALL.into_iter().collect()
    }

    pub fn contains(self, p: Param) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn insert(&mut self, p: Param) {
        self.0 |= p.bit();
    }

    pub fn remove(&mut self, p: Param) {
        self.0 &= !p.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Param> {
        Param::ALL.into_iter().filter(move |p| self.contains(*p))
    }
}

impl FromIterator<Param> for ParamSet {
    fn from_iter<I: IntoIterator<Item = Param>>(iter: I) -> Self {
        let mut set = ParamSet::EMPTY;
        for p in iter {
            set.insert(p);
        }
        set
    }
}

impl fmt::Debug for ParamSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(Param::name)).finish()
    }
}

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

    #[test]
    fn names_parse_in_every_spelling_and_round_trip() {
        for p in Param::ALL {
            assert_eq!(Param::parse(p.name()), Some(p));
            assert_eq!(Param::parse(p.fqdn()), Some(p));
            assert_eq!(p.fqdn().strip_prefix(FQDN_PREFIX), Some(p.name()));
        }
        assert_eq!(Param::parse("functions"), Some(Param::Tools));
        assert_eq!(Param::parse("cache-points"), None);
        let set: ParamSet = [Param::Length, Param::Tools].into_iter().collect();
        assert!(set.contains(Param::Length) && !set.contains(Param::Seed));
        assert_eq!(ParamSet::all().iter().count(), Param::ALL.len());
    }
}
