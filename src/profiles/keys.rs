//! The upstream's parameter keys (`llm.parameters.*`, docs/UPSTREAM.md "Parameters"): every key JetBrains' own
//! client defines for v8 chat, the value type each key has, and a set of keys. The names are the vocabulary of the
//! profile table and of the config; the pairs they travel in are `crate::upstream::parameters`.

use std::fmt;

/// The one table of keys: each row is the variant, the name after `llm.parameters.` (also how the profile table and
/// the config name it) and the value type JetBrains' client gives the key (`client/llm_parameters.py`,
/// `client/v8/llm_parameters.py`). It makes `Param`, `Param::ALL`, `name`, `fqdn` and `kind`, so a key is added in
/// one place.
macro_rules! keys {
    ($($variant:ident => $name:literal, $kind:ident;)+) => {
        /// One upstream parameter key. The order is the order pairs are sent in (tools first, as JetBrains' client
        /// does).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Param {
            $($variant,)+
        }

        impl Param {
            pub const ALL: [Param; [$(Param::$variant),+].len()] = [$(Param::$variant),+];

            /// The key's name after `llm.parameters.` (`top-p`); also how the profile table and the config name it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Param::$variant => $name,)+
                }
            }

            /// The full key (`llm.parameters.top-p`). v7 calls the tools key `functions`: see [`Param::fqdn_for`].
            pub fn fqdn(self) -> &'static str {
                match self {
                    $(Param::$variant => concat!("llm.parameters.", $name),)+
                }
            }

            /// The value type JetBrains' client gives the key.
            pub fn kind(self) -> Kind {
                match self {
                    $(Param::$variant => Kind::$kind,)+
                }
            }
        }
    };
}

keys! {
    Tools => "tools", Json;
    ToolChoiceAuto => "tool-choice-auto", Bool;
    ToolChoiceNone => "tool-choice-none", Bool;
    ToolChoiceRequired => "tool-choice-required", Bool;
    ToolChoiceNamed => "tool-choice-named", Text;
    ParallelToolCalls => "parallel-tool-calls", Bool;
    Temperature => "temperature", Double;
    TopP => "top-p", Double;
    TopK => "top-k", Int;
    Length => "length", Int;
    StopToken => "stop-token", Text;
    Seed => "seed", Int;
    NumberOfChoices => "number-of-choices", Int;
    ResponseFormat => "response-format", Json;
    ReasoningEffort => "reasoning-effort", Text;
    Verbosity => "verbosity", Text;
    ThinkingBudget => "thinking-budget", Int;
    PredictedOutput => "predicted-output", Text;
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
    /// The key as sent on `api`: v7 carries tools as `llm.parameters.functions`.
    pub fn fqdn_for(self, v7: bool) -> &'static str {
        match (self, v7) {
            (Param::Tools, true) => "llm.parameters.functions",
            (other, _) => other.fqdn(),
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

// One bit per key.
const _: () = assert!(Param::ALL.len() <= u32::BITS as usize);

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

    #[test]
    fn the_table_gives_each_key_its_type() {
        let of = |kind: Kind| -> Vec<&str> {
            Param::ALL
                .into_iter()
                .filter(|p| p.kind() == kind)
                .map(Param::name)
                .collect()
        };
        assert_eq!(of(Kind::Json), ["tools", "response-format"]);
        assert_eq!(
            of(Kind::Bool),
            [
                "tool-choice-auto",
                "tool-choice-none",
                "tool-choice-required",
                "parallel-tool-calls"
            ]
        );
        assert_eq!(of(Kind::Double), ["temperature", "top-p"]);
        assert_eq!(
            of(Kind::Int),
            [
                "top-k",
                "length",
                "seed",
                "number-of-choices",
                "thinking-budget"
            ]
        );
        assert_eq!(
            of(Kind::Text),
            [
                "tool-choice-named",
                "stop-token",
                "reasoning-effort",
                "verbosity",
                "predicted-output"
            ]
        );
        assert_eq!(Param::ALL.len(), 18);
    }
}
