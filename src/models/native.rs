//! The provider's own model id for a JetBrains AI profile, which the native provider routes take instead of the
//! profile id (`anthropic-claude-4-7-opus` → `claude-opus-4-7`). Data, from jb-ai-proxy's `model-id.js` (2026-04;
//! its Anthropic ids "verified from the route's Unsupported model error list"), limited to the profiles of
//! jbproxy's model table. A profile without an entry has no native route and goes by v8. Codex profiles are absent
//! on purpose: they answer only on the native Responses route, which jbproxy does not use.

/// The families that have a native route jbproxy uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Anthropic,
    OpenAi,
}

/// Profile id → the provider's model id.
const NATIVE_IDS: &[(&str, &str)] = &[
    ("anthropic-claude-4-sonnet", "claude-sonnet-4-20250514"),
    ("anthropic-claude-4-opus", "claude-opus-4-20250514"),
    ("anthropic-claude-4.1-opus", "claude-opus-4-1-20250805"),
    ("anthropic-claude-4-5-sonnet", "claude-sonnet-4-5-20250929"),
    ("anthropic-claude-4-5-haiku", "claude-haiku-4-5-20251001"),
    ("anthropic-claude-4-5-opus", "claude-opus-4-5-20251101"),
    ("anthropic-claude-4-6-opus", "claude-opus-4-6"),
    ("anthropic-claude-4-6-sonnet", "claude-sonnet-4-6"),
    ("anthropic-claude-4-7-opus", "claude-opus-4-7"),
    ("openai-gpt-4", "gpt-4"),
    ("openai-gpt-4-turbo", "gpt-4-turbo"),
    ("openai-gpt-4o", "gpt-4o"),
    ("openai-gpt-4o-mini", "gpt-4o-mini"),
    ("openai-o1", "o1"),
    ("openai-o3", "o3"),
    ("openai-o3-mini", "o3-mini"),
    ("openai-o4-mini", "o4-mini"),
    ("openai-gpt4.1", "gpt-4.1"),
    ("openai-gpt4.1-mini", "gpt-4.1-mini"),
    ("openai-gpt4.1-nano", "gpt-4.1-nano"),
    ("openai-gpt-5", "gpt-5"),
    ("openai-gpt-5-mini", "gpt-5-mini"),
    ("openai-gpt-5-nano", "gpt-5-nano"),
    ("openai-gpt-5-1", "gpt-5.1"),
    ("openai-gpt-5-2", "gpt-5.2"),
    ("openai-gpt-5-4", "gpt-5.4"),
    ("openai-gpt-5-4-mini", "gpt-5.4-mini"),
    ("openai-gpt-5-4-nano", "gpt-5.4-nano"),
];

/// The family and provider model id of `profile`, when a native route can serve it.
pub fn native_id(profile: &str) -> Option<(Family, &'static str)> {
    let (_, id) = NATIVE_IDS.iter().find(|(p, _)| *p == profile)?;
    let family = if profile.starts_with("anthropic-") {
        Family::Anthropic
    } else {
        Family::OpenAi
    };
    Some((family, id))
}

/// Every provider model id of `family`: what the fake upstream's native routes accept.
pub fn ids_of(family: Family) -> impl Iterator<Item = &'static str> {
    NATIVE_IDS
        .iter()
        .filter(move |(profile, _)| {
            profile.starts_with("anthropic-") == (family == Family::Anthropic)
        })
        .map(|(_, id)| *id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_named_here_is_in_the_model_table_and_of_its_family() {
        let table = crate::models::built_in();
        for (profile, id) in NATIVE_IDS {
            assert!(
                table.values().any(|p| p == profile),
                "{profile} is not a profile of the model table"
            );
            assert!(profile.starts_with("anthropic-") || profile.starts_with("openai-"));
            assert!(!id.is_empty() && !profile.contains("codex"));
        }
        assert_eq!(
            native_id("anthropic-claude-4-7-opus"),
            Some((Family::Anthropic, "claude-opus-4-7"))
        );
        assert_eq!(
            native_id("openai-gpt4.1"),
            Some((Family::OpenAi, "gpt-4.1"))
        );
        assert_eq!(native_id("openai-gpt-5-codex"), None);
        assert!(ids_of(Family::OpenAi).all(|id| !id.starts_with("claude")));
    }
}
