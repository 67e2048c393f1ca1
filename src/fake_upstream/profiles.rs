//! The fake's `GET /user/v5/llm/profiles/v8`: by default every profile of jbproxy's built-in table (which is the
//! project's picture of what JetBrains serves), each as `{"id", "provider", "features": ["Chat"], …}` **without** a
//! `chatDefinition`: the fake knows nothing true about each profile's parameters, and a profile without one says
//! nothing about them (docs/UPSTREAM.md), so the default answer changes no parameter decision. A test sets a
//! token's own answer (`Profiles::Answer`, e.g. the golden fixture's) or a failure (`Profiles::Fail`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

/// What `profiles/v8` answers for one token.
#[derive(Clone, Debug, PartialEq)]
pub enum Profiles {
    /// 200 with this JSON body.
    Answer(Value),
    /// This status with an opaque text body.
    Fail(u16),
}

/// The default answer, built once from the built-in model table.
pub(super) fn default_answer() -> &'static Value {
    static ANSWER: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    ANSWER.get_or_init(|| {
        let table: serde_json::Map<String, Value> =
            serde_json::from_str(include_str!("../models.json")).unwrap_or_default();
        let ids: BTreeSet<&str> = table
            .iter()
            .filter(|(alias, _)| !alias.starts_with('_'))
            .filter_map(|(_, profile)| profile.as_str())
            .collect();
        let profiles: Vec<Value> = ids
            .into_iter()
            .map(|id| {
                json!({
                    "id": id,
                    "provider": provider(id),
                    "modelName": id,
                    "features": ["Chat"],
                    "deprecated": false,
                    "experimental": false,
                })
            })
            .collect();
        json!({ "profiles": profiles })
    })
}

fn provider(id: &str) -> &'static str {
    match id.split('-').next() {
        Some("openai") => "OpenAI",
        Some("anthropic") => "Anthropic",
        Some("google") => "Google",
        Some("xai") => "xAI",
        _ => "Other",
    }
}
