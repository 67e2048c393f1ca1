//! The upstream's parameter keys (`llm.parameters.*`, docs/UPSTREAM.md "Parameters"): every key JetBrains' own
//! client defines for v8 chat, the value type each key has, and a set of keys. The names are the vocabulary of the
//! profile table and of the config; the pairs they travel in are `crate::upstream::parameters`.

use std::fmt;

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

#[cfg(test)]
mod tests {
    use super::*;

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
