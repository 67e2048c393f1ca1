//! The model fallback: the agents' ids, the config laid over the families, the count of ids served, and the
//! built-in families' shape.

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
    let known: std::collections::BTreeSet<&String> = super::super::built_in().values().collect();
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
