//! The model table: which JetBrains AI profile serves an OpenAI-style model id.
//!
//! The built-in table lives in `models.json` beside this file so it can be updated without touching code; the
//! config's `models` key is merged over it.

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelTable {
    aliases: BTreeMap<String, String>,
}

impl ModelTable {
    /// The built-in table with the user's entries laid over it (a user entry wins).
    pub fn with_overrides(user: &BTreeMap<String, String>) -> Self {
        let mut aliases = built_in().clone();
        aliases.extend(user.iter().map(|(k, v)| (k.clone(), v.clone())));
        Self { aliases }
    }

    pub fn profile_for<'a>(&'a self, model: &'a str) -> Option<&'a str> {
        if let Some(profile) = self.aliases.get(model) {
            return Some(profile);
        }
        self.aliases
            .values()
            .find(|p| p.as_str() == model)
            .map(String::as_str)
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
}
