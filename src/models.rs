//! The model table: which JetBrains AI profile serves an OpenAI-style model id.
//!
//! The built-in table lives in `models.json` beside this file so it can be updated without touching code; the
//! config's `models` key is merged over it. An id the table does not know may still be served: a profile id the
//! upstream lists (`catalog`, from `profiles/v8`), or an id of a known family through the model fallback
//! (`fallback`).

pub mod catalog;
pub mod fallback;
pub mod native;

use std::collections::BTreeMap;
use std::sync::OnceLock;

const BUILT_IN: &str = include_str!("models.json");

/// The built-in alias → profile table, parsed once.
pub fn built_in() -> &'static BTreeMap<String, String> {
    static TABLE: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let raw: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(BUILT_IN).unwrap_or_default();
        raw.into_iter()
            .filter(|(alias, _)| !alias.starts_with('_'))
            .filter_map(|(alias, profile)| Some((alias, profile.as_str()?.to_string())))
            .collect()
    })
}

/// Alias → profile for one running config. Profile ids themselves resolve too, so a client may name either.
#[derive(Debug, Clone, Default)]
pub struct ModelTable {
    aliases: BTreeMap<String, String>,
    /// Patterns for ids newer than the table, and the record of ids they served.
    fallback: fallback::Fallback,
    /// What the upstream lists (`profiles/v8`), learnt at run time.
    catalog: catalog::Catalog,
}

impl ModelTable {
    /// The built-in table with the user's entries laid over it (a user entry wins).
    pub fn with_overrides(user: &BTreeMap<String, String>) -> Self {
        let mut aliases = built_in().clone();
        aliases.extend(user.iter().map(|(k, v)| (k.clone(), v.clone())));
        Self {
            aliases,
            ..Self::default()
        }
    }

    /// Sets the model fallback (built-in families with the config's `model_fallback` laid over them). A target the
    /// user named by alias resolves through this table.
    pub fn with_fallback(mut self, config: &fallback::FallbackConfig) -> Self {
        let aliases = &self.aliases;
        self.fallback = fallback::Fallback::new(config, |target| aliases.get(target).cloned());
        self
    }

    /// Keeps what the previous table of a running server learned at run time: the ids its fallback served, and the
    /// profiles the upstream listed.
    pub fn carry_over(mut self, previous: Option<&ModelTable>) -> Self {
        if let Some(previous) = previous {
            self.fallback.carry_over(&previous.fallback);
            self.catalog = previous.catalog.clone();
        }
        self
    }

    pub fn fallback(&self) -> &fallback::Fallback {
        &self.fallback
    }

    /// The profiles the upstream lists (`profiles/v8`): their ids pass as they are, and their parameters are the
    /// upstream's own word on what each takes.
    pub fn catalog(&self) -> &catalog::Catalog {
        &self.catalog
    }

    /// The profile serving `model`: its alias, itself when it is a profile id (of the table or listed by the
    /// upstream), else its family's fallback (which logs the first use and counts each). `None` is a 404.
    pub fn profile_for<'a>(&'a self, model: &'a str) -> Option<&'a str> {
        if let Some(profile) = self.aliases.get(model) {
            return Some(profile);
        }
        if let Some(profile) = self.aliases.values().find(|p| p.as_str() == model) {
            return Some(profile);
        }
        if self.catalog.contains(model) {
            return Some(model);
        }
        self.fallback.serve(model).map(|rule| rule.profile.as_str())
    }

    /// Like `profile_for`, for looking only (`/v1/models/{id}`): nothing is logged or counted.
    pub fn peek(&self, model: &str) -> Option<String> {
        if let Some(profile) = self.aliases.get(model) {
            return Some(profile.clone());
        }
        if self.aliases.values().any(|p| p == model) || self.catalog.contains(model) {
            return Some(model.to_owned());
        }
        self.fallback
            .rule_for(model)
            .map(|rule| rule.profile.clone())
    }

    /// Aliases in sorted order, as `/v1/models` lists them.
    pub fn aliases(&self) -> impl Iterator<Item = (&str, &str)> {
        self.aliases.iter().map(|(a, p)| (a.as_str(), p.as_str()))
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.aliases
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_parses_and_has_the_documented_entries() {
        let table = built_in();
        assert!(table.len() > 40);
        assert_eq!(table["gpt-4o"], "openai-gpt-4o");
        assert_eq!(table["claude-3.5-sonnet"], "anthropic-claude-3.5-sonnet");
        assert!(!table.contains_key("_comment"));
    }

    #[test]
    fn user_entries_win_and_profiles_pass_through() {
        let user = BTreeMap::from([("gpt-4o".to_string(), "custom-profile".to_string())]);
        let table = ModelTable::with_overrides(&user);
        assert_eq!(table.profile_for("gpt-4o"), Some("custom-profile"));
        assert_eq!(table.profile_for("openai-gpt-5"), Some("openai-gpt-5"));
        assert_eq!(table.profile_for("no-such-model"), None);
    }

    #[test]
    fn profiles_the_upstream_lists_pass_and_survive_a_reload() {
        let table = ModelTable::with_overrides(&BTreeMap::new());
        let new = "anthropic-claude-5-opus";
        assert_eq!(table.profile_for(new), None);
        let listed =
            catalog::parse(&serde_json::json!({"profiles": [{"id": new, "features": ["Chat"]}]}))
                .expect("parses");
        table.catalog().record("sha256:00000000", listed);
        assert_eq!(table.profile_for(new), Some(new));
        let reloaded = ModelTable::with_overrides(&BTreeMap::new()).carry_over(Some(&table));
        assert_eq!(reloaded.peek(new).as_deref(), Some(new));
    }
}
