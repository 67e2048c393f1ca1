//! Model fallback: a model id newer than the table (Claude Code's `claude-opus-4-8`, Codex's `gpt-6.2-sol`) is served
//! by the newest profile of its family instead of a 404. The families, their patterns and their profiles newest first
//! are data (`fallback.json` beside this file); the config's `model_fallback` is laid over the patterns, or turns
//! the fallback off. Each id served this way is logged once and counted, for `/stats` and `/v1/models`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use glob::Pattern;
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
        if let Err(err) = Pattern::new(&pattern) {
            return Err(format!(
                "pattern \"{pattern}\" is not a valid glob ({}): use * for any text, ? for one character",
                err.msg
            ));
        }
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
                    if let Ok(glob) = Pattern::new(pattern) {
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
                if let (Some(target), Ok(glob)) = (target, Pattern::new(pattern)) {
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
            .filter_map(|p| Pattern::new(p).ok())
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
mod tests {
    use super::*;

    fn fallback(config: Value) -> Fallback {
        let config = parse_config(config).expect("valid");
        Fallback::new(&config, |a| {
            (a == "my-opus").then(|| "anthropic-claude-4-5-opus".into())
        })
    }

    fn profile(f: &Fallback, model: &str) -> Option<String> {
        f.rule_for(model).map(|r| r.profile.clone())
    }

    #[test]
    fn the_agents_default_ids_reach_the_newest_profile_of_their_family() {
        let f = fallback(Value::Bool(true));
        for (model, expected) in [
            ("claude-opus-4-8", "anthropic-claude-4-7-opus"),
            ("claude-sonnet-5", "anthropic-claude-4-6-sonnet"),
            ("claude-haiku-4-5-20251001", "anthropic-claude-4-5-haiku"),
            ("claude-haiku-5", "anthropic-claude-4-5-haiku"),
            ("gpt-6.2-sol", "openai-gpt-5-4"),
            ("gpt-5.3-codex", "openai-gpt-5-4"),
            ("gpt-5.5-mini", "openai-gpt-5-4-mini"),
            ("gpt-6-nano", "openai-gpt-5-4-nano"),
            ("gemini-4.0-pro", "google-gemini-3-1-pro"),
            ("gemini-3.5-flash", "google-gemini-3-0-flash"),
            ("gemini-3.5-flash-lite", "google-chat-gemini-flash-lite-2.5"),
        ] {
            assert_eq!(profile(&f, model).as_deref(), Some(expected), "{model}");
        }
    }

    #[test]
    fn no_family_no_fallback() {
        let f = fallback(Value::Bool(true));
        for model in [
            "llama-4",
            "o5",
            "claude-3-opus-20240229",
            "claude-3-5-sonnet-20240620",
            "my-gpt-x",
        ] {
            assert_eq!(profile(&f, model), None, "{model}");
        }
    }

    #[test]
    fn the_config_adds_replaces_removes_or_turns_everything_off() {
        let f = fallback(serde_json::json!({
            "claude-opus-*": "my-opus",
            "gpt-*": null,
            "llama-*": "openai-gpt-4o",
            "_comment": "ignored"
        }));
        assert_eq!(
            profile(&f, "claude-opus-5").as_deref(),
            Some("anthropic-claude-4-5-opus")
        );
        assert_eq!(profile(&f, "gpt-6.2-sol"), None, "gpt-* removed");
        assert_eq!(
            profile(&f, "gpt-6-mini").as_deref(),
            Some("openai-gpt-5-4-mini"),
            "other patterns stay"
        );
        assert_eq!(profile(&f, "llama-4").as_deref(), Some("openai-gpt-4o"));
        assert!(
            f.rules()
                .iter()
                .any(|r| r.pattern == "llama-*" && r.family.is_none())
        );
        let off = fallback(Value::Bool(false));
        assert!(off.rules().is_empty());
        assert_eq!(profile(&off, "claude-opus-4-8"), None);
    }

    #[test]
    fn bad_config_values_say_what_to_write() {
        for (value, needle) in [
            (serde_json::json!("claude-*"), "must be false"),
            (serde_json::json!({"claude-[": "x"}), "not a valid glob"),
            (serde_json::json!({"claude-*": ""}), "needs a profile id"),
            (serde_json::json!({"claude-*": 3}), "needs a profile id"),
            (serde_json::json!({" ": "x"}), "empty"),
        ] {
            let err = parse_config(value).expect_err("invalid");
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn serving_counts_each_id_and_remembers_it_across_a_reload() {
        let first = fallback(Value::Bool(true));
        first.serve("claude-opus-4-8");
        first.serve("claude-opus-4-8");
        first.serve("gpt-6.2-sol");
        assert!(first.serve("llama-4").is_none());
        let mut second = fallback(serde_json::json!({"claude-opus-*": "my-opus"}));
        second.carry_over(&first);
        second.serve("claude-opus-4-8");
        assert_eq!(
            second.served(),
            [
                Served {
                    model: "claude-opus-4-8".into(),
                    profile: "anthropic-claude-4-5-opus".into(),
                    pattern: "claude-opus-*".into(),
                    uses: 1,
                },
                Served {
                    model: "gpt-6.2-sol".into(),
                    profile: "openai-gpt-5-4".into(),
                    pattern: "gpt-*".into(),
                    uses: 1,
                },
            ]
        );
    }

    #[test]
    fn the_built_in_families_are_well_formed_and_never_cross() {
        let known: std::collections::BTreeSet<&String> =
            super::super::built_in().values().collect();
        let vendor = |family: &str| match family.split('-').next() {
            Some("claude") => "anthropic-claude-",
            Some("gpt") => "openai-",
            Some("gemini") => "google-",
            other => panic!("no vendor known for family {other:?}"),
        };
        assert!(families().len() >= 5);
        for family in families() {
            assert!(!family.newest_first.is_empty(), "{}", family.family);
            for profile in &family.newest_first {
                assert!(
                    known.contains(profile),
                    "{profile} is not a profile of models.json"
                );
                assert!(
                    profile.starts_with(vendor(&family.family)),
                    "{profile} in {}",
                    family.family
                );
                assert!(
                    !profile.contains("codex"),
                    "{profile}: codex profiles take no tools"
                );
            }
            for pattern in &family.patterns {
                assert!(Pattern::new(pattern).is_ok(), "{pattern}");
                assert!(
                    pattern.starts_with(family.family.split('-').next().unwrap_or_default()),
                    "{pattern}"
                );
            }
        }
    }
}
