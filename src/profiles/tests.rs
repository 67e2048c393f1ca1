//! The profile table: the built-in families, the config's overrides, what profiles/v8 discovered.

use serde_json::json;

use super::*;
use crate::models::catalog::Catalog;

#[test]
fn built_in_table_is_valid() {
    let raw: serde_json::Value = serde_json::from_str(BUILT_IN).expect("profiles.json parses");
    let families = raw["families"].as_array().expect("families");
    assert_eq!(families.len(), built_in().len());
    for family in families {
        for name in family["parameters"].as_array().expect("parameters") {
            let name = name.as_str().expect("a string");
            assert!(Param::parse(name).is_some(), "unknown parameter {name}");
        }
    }
    for family in built_in() {
        assert_eq!(
            family.globs.len(),
            family.patterns.len(),
            "{}: a pattern does not parse",
            family.name
        );
    }
    // The last family catches every profile.
    assert_eq!(
        built_in().last().map(|f| f.patterns.clone()),
        Some(vec!["*".to_string()])
    );
}

#[test]
fn families_follow_the_documented_allow_lists() {
    let takes = |profile: &str, p: Param| built_in_for(profile).0.takes(p);
    // jb-ai-proxy's tested lists (docs/UPSTREAM.md).
    assert!(takes("anthropic-claude-4-5-sonnet", Param::Length));
    assert!(takes("anthropic-claude-4-5-sonnet", Param::StopToken));
    assert!(!takes("anthropic-claude-4-5-sonnet", Param::Temperature));
    assert!(takes("openai-gpt-5", Param::Verbosity));
    assert!(!takes("openai-gpt-5", Param::Temperature));
    assert!(takes("openai-o3", Param::NumberOfChoices));
    assert!(!takes("openai-o3", Param::TopP));
    assert!(takes("openai-gpt-4o", Param::Temperature));
    assert!(takes("openai-gpt-4o", Param::ResponseFormat));
    assert!(!takes("google-gemini-3-0-pro", Param::Seed));
    assert!(takes("xai-grok-4", Param::Seed));
    // Codex profiles take nothing, not even tools; every other family takes tools.
    for p in Param::ALL {
        assert!(!takes("openai-gpt-5-1-codex", p), "{p}");
    }
    for profile in [
        "anthropic-claude-4-6-opus",
        "openai-gpt4.1",
        "google-chat-gemini-pro-2.5",
        "qwen-max",
    ] {
        assert!(takes(profile, Param::Tools), "{profile}");
        assert!(takes(profile, Param::ToolChoiceRequired), "{profile}");
    }
    // Claude 4.6 refuses prefill; 4.5 takes it.
    assert!(!built_in_for("anthropic-claude-4-6-sonnet").0.prefill);
    assert!(built_in_for("anthropic-claude-4-5-sonnet").0.prefill);
}

#[test]
fn config_beats_discovered_beats_built_in() {
    let catalog = Catalog::default();
    // What profiles/v8 said, as one token's listing: ids and the fqdns each takes.
    let listed = |profiles: &[(&str, &[&str])]| {
        let profiles = profiles
            .iter()
            .map(|(id, fqdns)| json!({"id": id, "chatDefinition": {"parameters": fqdns}}))
            .collect::<Vec<_>>();
        crate::models::catalog::parse(&json!({ "profiles": profiles })).expect("parses")
    };
    let config = parse_overrides(json!({
        "openai-gpt-4o": {"parameters": ["length"]},
        "anthropic-*": {"prefill": false},
        "anthropic-claude-4-5-*": {"parameters": ["temperature", "llm.parameters.top-k"]},
    }))
    .expect("valid");
    let table = ProfileTable::new(&config, catalog.clone());
    let gpt = table.capabilities("openai-gpt-4o");
    assert_eq!(gpt.parameters, [Param::Length].into_iter().collect());
    // The longer pattern wins for 4.5; its prefill is not given, so the built-in value stays.
    let sonnet = table.capabilities("anthropic-claude-4-5-sonnet");
    assert_eq!(
        sonnet.parameters,
        [Param::Temperature, Param::TopK].into_iter().collect()
    );
    assert!(sonnet.prefill);
    assert!(!table.capabilities("anthropic-claude-3.7-sonnet").prefill);
    // The upstream's list replaces the built-in one, and the config still wins over it.
    let all: Vec<&str> = ParamSet::all().iter().map(Param::name).collect();
    catalog.record(
        "sha256:aaaa",
        listed(&[
            ("xai-grok-4", &["llm.parameters.length"][..]),
            ("openai-gpt-4o", all.as_slice()),
        ]),
    );
    assert_eq!(
        table.capabilities("xai-grok-4").parameters,
        [Param::Length].into_iter().collect()
    );
    assert_eq!(
        table.capabilities("openai-gpt-4o").parameters,
        gpt.parameters
    );
    // A profile no token lists any more is the built-in family's again; names jbproxy does not know are skipped
    // (as profiles/v8 lists them: fixture tests/fixtures/grazie/profiles/profiles_v8.json).
    catalog.record(
        "sha256:aaaa",
        listed(&[(
            "google-gemini-3-0-pro",
            &[
                "llm.parameters.tools",
                "llm.parameters.length",
                "llm.parameters.cache-points",
            ][..],
        )]),
    );
    assert!(table.capabilities("xai-grok-4").takes(Param::Seed));
    assert_eq!(
        table.capabilities("google-gemini-3-0-pro").parameters,
        [Param::Tools, Param::Length].into_iter().collect()
    );
}

#[test]
fn bad_overrides_say_what_is_wrong() {
    let err = |v| parse_overrides(v).expect_err("refused");
    assert!(err(json!([])).contains("must be an object"));
    assert!(
        err(json!({"p": {"parameters": ["temprature"]}}))
            .contains("\"temprature\" is not an upstream parameter")
    );
    assert!(err(json!({"p": {"prefill": "no"}})).contains("p.prefill: must be true or false"));
    assert!(err(json!({"p": {"params": []}})).contains("unknown field \"params\""));
    assert!(err(json!({"p": 3})).contains("p: must be an object"));
}

#[test]
fn config_keys_match_as_model_fallback_patterns_do() {
    // The same matcher as `model_fallback`: `?` is one character and `[…]` a class, not literal text.
    let config = parse_overrides(json!({
        "openai-gpt-4?": {"prefill": false},
        "google-gemini-[23]-*": {"parameters": ["length"]},
    }))
    .expect("valid");
    let table = ProfileTable::new(&config, Catalog::default());
    assert!(!table.capabilities("openai-gpt-4o").prefill);
    assert!(table.capabilities("openai-gpt-4-1").prefill);
    assert_eq!(
        table.capabilities("google-gemini-3-0-pro").parameters,
        [Param::Length].into_iter().collect()
    );
    assert_ne!(
        table.capabilities("google-gemini-1-5-pro").parameters,
        [Param::Length].into_iter().collect()
    );
    let err = parse_overrides(json!({"claude-[opus": {"prefill": true}})).expect_err("refused");
    assert!(
        err.contains("pattern \"claude-[opus\" is not a valid glob"),
        "{err}"
    );
}
