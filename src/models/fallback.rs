//! Model fallback: a model id newer than the table (Claude Code's `claude-opus-4-8`, Codex's `gpt-6.2-sol`) is served
//! by the newest profile of its family instead of a 404. The families, their patterns and their profiles newest first
//! are data (`fallback.json` beside this file); the config's `model_fallback` is laid over the patterns, or turns
//! the fallback off. Each id served this way is logged once and counted, for `/stats` and `/v1/models`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::id_pattern::{self, Pattern};
use serde::Deserialize;
use serde_json::Value;

const BUILT_IN: &str = include_str!("fallback.json");

/// Distinct ids remembered for `/stats`; past this, ids are still served but not listed (a client sending random
/// `gpt-…` names must not grow memory without bound).
const MAX_SERVED: usize = 256;

/// The config's `model_fallback`: on or off, and the user's patterns (`None` removes a built-in pattern).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackConfig {
    pub enabled: bool,
    pub entries: BTreeMap<String, Option<String>>,
}

impl Default for FallbackConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            entries: BTreeMap::new(),
        }
    }
}

/// Reads the config value: `false` (off), `true` (the built-in patterns), or an object of pattern → profile id or
/// alias, `null` to drop a built-in pattern. Keys starting with `_` are comments.
pub fn parse_config(value: Value) -> Result<FallbackConfig, String> {
    let map = match value {
        Value::Bool(enabled) => {
            return Ok(FallbackConfig {
                enabled,
                entries: BTreeMap::new(),
            });
        }
        Value::Object(map) => map,
        _ => {
            return Err(
                "must be false (no fallback), true (the built-in families) or an object such as \
                 {\"claude-opus-*\": \"anthropic-claude-4-6-opus\", \"gpt-*\": null}"
                    .into(),
            );
        }
    };
    let mut entries = BTreeMap::new();
    for (pattern, target) in map {
        if pattern.starts_with('_') {
            continue;
        }
        if pattern.trim().is_empty() {
            return Err("a pattern is empty; write one such as \"claude-opus-*\"".into());
        }
        id_pattern::parse(&pattern)?;
        let target = match target {
            Value::Null => None,
            Value::String(s) if !s.trim().is_empty() => Some(s),
            _ => {
                return Err(format!(
                    "pattern \"{pattern}\" needs a profile id or model alias (a non-empty string), or null to \
                     turn that pattern off"
                ));
            }
        };
        entries.insert(pattern, target);
    }
    Ok(FallbackConfig {
        enabled: true,
        entries,
    })
}

#[derive(Debug, Deserialize)]
struct BuiltIn {
    families: Vec<Family>,
    never: Vec<String>,
}

/// A family: the ids its patterns match are served by `newest_first[0]`.
#[derive(Debug, Deserialize)]
pub struct Family {
    pub family: String,
    pub patterns: Vec<String>,
    pub newest_first: Vec<String>,
}

fn built_in() -> &'static BuiltIn {
    static TABLE: OnceLock<BuiltIn> = OnceLock::new();
    TABLE.get_or_init(|| {
        serde_json::from_str(BUILT_IN).unwrap_or(BuiltIn {
            families: Vec::new(),
            never: Vec::new(),
        })
    })
}

/// The built-in families, as `fallback.json` lists them.
pub fn families() -> &'static [Family] {
    &built_in().families
}

/// One pattern and the profile it serves.
#[derive(Debug, Clone)]
pub struct Rule {
    pub pattern: String,
    glob: Pattern,
    pub profile: String,
    /// The built-in family it comes from, or `None` for a pattern of the config's.
    pub family: Option<&'static str>,
}

impl Rule {
    /// Literal characters: the more, the more specific the pattern.
    fn specificity(&self) -> (usize, usize) {
        let literal = self
            .pattern
            .chars()
            .filter(|c| !matches!(c, '*' | '?' | '[' | ']'))
            .count();
        (literal, self.pattern.len())
    }
}

/// An id served by fallback since the server started, for `/stats` and `/v1/models`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub model: String,
    pub profile: String,
    pub pattern: String,
    /// Requests (and token counts) that named it.
    pub uses: u64,
}

/// The patterns of one config, and the record of ids served, which outlives a reload.
#[derive(Debug, Clone, Default)]
pub struct Fallback {
    /// Most specific first.
    rules: Vec<Rule>,
    never: Vec<Pattern>,
    served: Arc<Mutex<BTreeMap<String, Served>>>,
}

impl Fallback {
    /// The built-in patterns with the config's laid over them; `alias` turns a target the user named by alias into
    /// its profile.
    pub fn new(config: &FallbackConfig, alias: impl Fn(&str) -> Option<String>) -> Self {
        let mut rules: Vec<Rule> = Vec::new();
        if config.enabled {
            for family in families() {
                let Some(newest) = family.newest_first.first() else {
                    continue;
                };
                for pattern in &family.patterns {
                    if let Ok(glob) = id_pattern::parse(pattern) {
                        rules.push(Rule {
                            pattern: pattern.clone(),
                            glob,
                            profile: newest.clone(),
                            family: Some(&family.family),
                        });
                    }
                }
            }
            for (pattern, target) in &config.entries {
                rules.retain(|r| &r.pattern != pattern);
                if let (Some(target), Ok(glob)) = (target, id_pattern::parse(pattern)) {
                    rules.push(Rule {
                        pattern: pattern.clone(),
                        glob,
                        profile: alias(target).unwrap_or_else(|| target.clone()),
                        family: None,
                    });
                }
            }
        }
        rules.sort_by(|a, b| {
            b.specificity()
                .cmp(&a.specificity())
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        let never = built_in()
            .never
            .iter()
            .filter_map(|p| id_pattern::parse(p).ok())
            .collect();
        Self {
            rules,
            never,
            served: Arc::default(),
        }
    }

    /// Keeps the record of ids served from the config before, so a reload neither forgets nor re-logs them.
    pub fn carry_over(&mut self, previous: &Fallback) {
        self.served = Arc::clone(&previous.served);
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule that would serve `model`, without recording anything.
    pub fn rule_for(&self, model: &str) -> Option<&Rule> {
        if self.never.iter().any(|p| p.matches(model)) {
            return None;
        }
        self.rules.iter().find(|r| r.glob.matches(model))
    }

    /// The rule that serves `model`, counted, and logged the first time `model` is served by this profile.
    pub fn serve(&self, model: &str) -> Option<&Rule> {
        let rule = self.rule_for(model)?;
        let mut served = self.served.lock().unwrap_or_else(|p| p.into_inner());
        let full = served.len() >= MAX_SERVED;
        match served.get_mut(model) {
            Some(entry) if entry.profile == rule.profile => entry.uses += 1,
            Some(entry) => {
                log(model, rule);
                *entry = Served {
                    model: model.to_owned(),
                    profile: rule.profile.clone(),
                    pattern: rule.pattern.clone(),
                    uses: 1,
                };
            }
            None if full => {}
            None => {
                log(model, rule);
                served.insert(
                    model.to_owned(),
                    Served {
                        model: model.to_owned(),
                        profile: rule.profile.clone(),
                        pattern: rule.pattern.clone(),
                        uses: 1,
                    },
                );
            }
        }
        Some(rule)
    }

    /// The ids served by fallback so far, by id.
    pub fn served(&self) -> Vec<Served> {
        self.served
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

fn log(model: &str, rule: &Rule) {
    // The id is the client's: bounded and without control characters before it reaches the log.
    let shown: String = model.chars().take(100).collect();
    let shown = crate::logging::escape_controls(&shown);
    tracing::info!(
        model = %shown,
        profile = %rule.profile,
        pattern = %rule.pattern,
        "model {shown} is not in the model table; serving it with {} (model_fallback \"{}\")",
        rule.profile,
        rule.pattern
    );
}

#[cfg(test)]
mod tests;
