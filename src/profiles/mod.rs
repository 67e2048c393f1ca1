//! The profile table: which upstream parameters (`llm.parameters.*`) each JetBrains AI profile takes, and whether it
//! takes a conversation that ends with an assistant message (prefill). Data, not code: the built-in table is
//! `profiles.json` beside this file (one entry per model family, first match wins), the config's
//! `profile_parameters` key overrides it, and what the upstream itself says about a profile (its `profiles/v8`
//! answer, as the model catalogue `models::catalog` records it) overrides the built-in entry.
//!
//! Precedence, most specific first: the config (the operator knows best), then the upstream's own list, then the
//! built-in family. `keys` names the parameters themselves. Uses only the model catalogue (`models::catalog`); the
//! config, the mapping, the upstream client and the fake all read it.

mod keys;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::id_pattern::{self, Pattern};
use crate::models::catalog::Catalog;

pub use keys::{FQDN_PREFIX, Kind, Param, ParamSet};

const BUILT_IN: &str = include_str!("profiles.json");

/// What one profile takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub parameters: ParamSet,
    /// Whether the conversation may end with an assistant message.
    pub prefill: bool,
}

impl Capabilities {
    /// Everything: for tests of the mapping's encoding, where the table is not the point.
    pub fn all() -> Self {
        Capabilities {
            parameters: ParamSet::all(),
            prefill: true,
        }
    }

    pub fn takes(&self, p: Param) -> bool {
        self.parameters.contains(p)
    }
}

/// One family of the built-in table.
#[derive(Debug)]
struct Family {
    name: String,
    patterns: Vec<String>,
    globs: Vec<Pattern>,
    caps: Capabilities,
}

#[derive(Deserialize)]
struct RawTable {
    families: Vec<RawFamily>,
}

#[derive(Deserialize)]
struct RawFamily {
    family: String,
    profiles: Vec<String>,
    parameters: Vec<String>,
    prefill: bool,
}

/// The built-in families, parsed once. A name the code does not know fails the `built_in_table_is_valid` test,
/// so at runtime unknown names cannot occur; they are skipped rather than trusted.
fn built_in() -> &'static [Family] {
    static TABLE: OnceLock<Vec<Family>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let raw: RawTable = match serde_json::from_str(BUILT_IN) {
            Ok(raw) => raw,
            Err(_) => return Vec::new(),
        };
        raw.families
            .into_iter()
            .map(|f| Family {
                name: f.family,
                // A pattern that does not parse fails the `built_in_table_is_valid` test, so none is skipped here.
                globs: f
                    .profiles
                    .iter()
                    .filter_map(|p| id_pattern::parse(p).ok())
                    .collect(),
                patterns: f.profiles,
                caps: Capabilities {
                    parameters: f
                        .parameters
                        .iter()
                        .filter_map(|n| Param::parse(n))
                        .collect(),
                    prefill: f.prefill,
                },
            })
            .collect()
    })
}

/// What the built-in table says about `profile`, and the family that said it. A profile no family matches takes
/// nothing (the table ends with a catch-all, so this does not happen with the shipped table).
pub fn built_in_for(profile: &str) -> (Capabilities, &'static str) {
    built_in()
        .iter()
        .find(|f| f.globs.iter().any(|p| p.matches(profile)))
        .map_or(
            (
                Capabilities {
                    parameters: ParamSet::EMPTY,
                    prefill: true,
                },
                "none",
            ),
            |f| (f.caps, f.name.as_str()),
        )
}

/// The built-in families as (name, patterns, capabilities), for documentation and tests.
pub fn built_in_families() -> impl Iterator<Item = (&'static str, &'static [String], Capabilities)>
{
    built_in()
        .iter()
        .map(|f| (f.name.as_str(), f.patterns.as_slice(), f.caps))
}

/// A config entry of `profile_parameters`: each field given replaces what the lower layers say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileOverride {
    pub parameters: Option<ParamSet>,
    pub prefill: Option<bool>,
}

/// The table one running config uses.
#[derive(Debug, Clone, Default)]
pub struct ProfileTable {
    /// Config entries, most specific first (an exact id before any pattern, a longer pattern before a shorter).
    config: Vec<(Pattern, ProfileOverride)>,
    /// What `profiles/v8` said, per token: the one store of discovered profiles, shared with the model table (a
    /// profile's parameters go when the last token listing it does, a reload's removed tokens included).
    catalog: Catalog,
}

impl ProfileTable {
    /// The built-in table with the config's entries over it; `catalog` is the runtime layer (the model table's,
    /// which carries over a reload).
    pub fn new(config: &BTreeMap<String, ProfileOverride>, catalog: Catalog) -> Self {
        let mut config: Vec<(&String, &ProfileOverride)> = config.iter().collect();
        config.sort_by_key(|(pattern, _)| {
            (
                id_pattern::is_pattern(pattern),
                std::cmp::Reverse(pattern.len()),
            )
        });
        // `parse_overrides` refused any key that is not a pattern, so none is dropped here.
        let config = config
            .into_iter()
            .filter_map(|(k, v)| Some((id_pattern::parse(k).ok()?, v.clone())))
            .collect();
        ProfileTable { config, catalog }
    }

    /// What `profile` takes.
    pub fn capabilities(&self, profile: &str) -> Capabilities {
        let (mut caps, _) = built_in_for(profile);
        // Names jbproxy does not know (`llm.parameters.cache-points`, …) are skipped: it never sends them anyway.
        if let Some(fqdns) = self.catalog.load().parameters(profile) {
            caps.parameters = fqdns.iter().filter_map(|n| Param::parse(n)).collect();
        }
        if let Some((_, over)) = self.config.iter().find(|(p, _)| p.matches(profile)) {
            if let Some(parameters) = over.parameters {
                caps.parameters = parameters;
            }
            if let Some(prefill) = over.prefill {
                caps.prefill = prefill;
            }
        }
        caps
    }
}

/// Reads the config's `profile_parameters`: `{"<profile id or pattern>": {"parameters": [names], "prefill": bool}}`.
/// The error says which entry is wrong and how.
pub fn parse_overrides(
    value: serde_json::Value,
) -> Result<BTreeMap<String, ProfileOverride>, String> {
    let serde_json::Value::Object(entries) = value else {
        return Err(
            "must be an object such as {\"openai-gpt-4o\": {\"parameters\": [\"length\", \"temperature\"]}}"
                .into(),
        );
    };
    let mut out = BTreeMap::new();
    for (profile, entry) in entries {
        if profile.starts_with('_') {
            continue;
        }
        if profile.trim().is_empty() {
            return Err("an entry has an empty profile id".into());
        }
        id_pattern::parse(&profile)?;
        let serde_json::Value::Object(fields) = entry else {
            return Err(format!(
                "{profile}: must be an object with \"parameters\" (a list of names) and/or \"prefill\" (true or false)"
            ));
        };
        let mut over = ProfileOverride::default();
        for (key, value) in fields {
            match (key.as_str(), value) {
                ("parameters", serde_json::Value::Array(names)) => {
                    let mut set = ParamSet::EMPTY;
                    for name in names {
                        let parsed = name.as_str().and_then(Param::parse);
                        let Some(param) = parsed else {
                            return Err(format!(
                                "{profile}.parameters: {name} is not an upstream parameter; known: {}",
                                Param::names()
                            ));
                        };
                        set.insert(param);
                    }
                    over.parameters = Some(set);
                }
                ("prefill", serde_json::Value::Bool(b)) => over.prefill = Some(b),
                ("parameters", _) => {
                    return Err(format!("{profile}.parameters: must be a list of names"));
                }
                ("prefill", _) => return Err(format!("{profile}.prefill: must be true or false")),
                (other, _) if other.starts_with('_') => {}
                (other, _) => {
                    return Err(format!(
                        "{profile}: unknown field \"{other}\"; use \"parameters\" and \"prefill\""
                    ));
                }
            }
        }
        out.insert(profile, over);
    }
    Ok(out)
}

/// `profile_parameters` as the config file writes it (what `print-config` shows): only the fields an entry sets.
pub fn overrides_json(entries: &BTreeMap<String, ProfileOverride>) -> serde_json::Value {
    let entries = entries.iter().map(|(profile, over)| {
        let mut fields = serde_json::Map::new();
        if let Some(parameters) = over.parameters {
            let names = parameters.iter().map(|p| p.name().into()).collect();
            fields.insert("parameters".into(), serde_json::Value::Array(names));
        }
        if let Some(prefill) = over.prefill {
            fields.insert("prefill".into(), prefill.into());
        }
        (profile.clone(), serde_json::Value::Object(fields))
    });
    serde_json::Value::Object(entries.collect())
}

#[cfg(test)]
mod tests;
