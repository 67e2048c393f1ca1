//! The profile catalogue: what `GET /user/v5/llm/profiles/v8` said, per token and merged. Per profile its
//! parameters (`chatDefinition.parameters[].fqdn`) and features; per token which profiles it lists and when it said
//! so. Filled by the checker (at start and with the health checks), read by `/v1/models`, the model table (an id
//! listed here passes as it is) and the profile table (`profiles::ProfileTable`, which `parameters.data` keys a
//! profile takes). Only what something reads is kept; the answer's other fields (provider, roles, lifecycle,
//! limits) are skipped.
//!
//! One `Catalog` is shared by every `ModelTable` of a running server (carried over reloads); each answer replaces
//! that token's listing whole. Readers take a snapshot (`load`) and read it without locks:
//!
//! ```ignore
//! let catalog = live.models.catalog().load();
//! match catalog.parameters("openai-gpt-5") {
//!     Some(fqdns) => { /* the upstream's own list for this profile wins */ }
//!     None => { /* not listed, or listed without a chatDefinition: fall back to the static table */ }
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde_json::Value;
use tokio::time::Instant;

/// The prefix of every parameter key (`llm.parameters.temperature`).
pub const PARAMETER_PREFIX: &str = "llm.parameters.";

/// One profile as `profiles/v8` describes it. Field names after JetBrains' own test data (docs/UPSTREAM.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: String,
    /// `Chat`, `Responses`, `Proxy`, …
    pub features: Vec<String>,
    /// The parameter keys the profile takes, as fqdns (`llm.parameters.length`). `None` when the profile has no
    /// `chatDefinition`: then it says nothing about its parameters (not "none").
    pub parameters: Option<Vec<String>>,
}

impl Profile {
    /// Whether the profile serves chat: it says `Chat` or `Responses` (codex), or names no feature at all.
    pub fn chats(&self) -> bool {
        self.features.is_empty()
            || self
                .features
                .iter()
                .any(|f| f.eq_ignore_ascii_case("chat") || f.eq_ignore_ascii_case("responses"))
    }
}

/// Reads a `profiles/v8` answer. Lenient where the fields are (unknown ones are ignored, a profile without an id is
/// skipped, a parameter may be `{"fqdn": …}` or a bare string as JetBrains' own parser accepts); strict only about
/// the shape that says what the answer is: an object with a `profiles` list.
pub fn parse(body: &Value) -> Result<Vec<Profile>, String> {
    let list = body
        .get("profiles")
        .and_then(Value::as_array)
        .ok_or("the answer has no `profiles` list")?;
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(list
        .iter()
        .filter_map(|p| {
            let id = p.get("id")?.as_str()?.trim();
            if id.is_empty() {
                return None;
            }
            let chat = p.get("chatDefinition").filter(|c| c.is_object());
            let parameters = chat.map(|c| {
                c.get("parameters")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|entry| match entry {
                                Value::String(s) => Some(s.clone()),
                                other => other.get("fqdn")?.as_str().map(str::to_owned),
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            });
            Some(Profile {
                id: id.to_owned(),
                features: strings(p.get("features")),
                parameters,
            })
        })
        .collect())
}

/// What one token's latest answer listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub ids: BTreeSet<String>,
    /// When, as a wall-clock time to show.
    pub at: SystemTime,
    /// When, on the clock that ages listings (tokio's, so tests with a paused clock age them too).
    asked: Instant,
}

/// The catalogue at one moment: every token's listing and the profiles they list, merged.
#[derive(Debug, Clone, Default)]
pub struct Discovered {
    /// By profile id; a profile several tokens list is described by the latest answer.
    profiles: BTreeMap<String, Profile>,
    /// By token fingerprint (the configured token's, stable across refreshes).
    tokens: BTreeMap<String, Listing>,
}

/// The profiles some set of tokens can serve, for `/v1/models`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Servable {
    /// A token of the set has no listing (never asked, or every answer failed): it is taken to serve the static
    /// table.
    pub static_table: bool,
    /// The chat profiles the tokens with a listing list.
    pub listed: BTreeSet<String>,
}

impl Discovered {
    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.get(id)
    }

    /// Whether some token lists this profile id.
    pub fn contains(&self, id: &str) -> bool {
        self.profiles.contains_key(id)
    }

    /// The parameter keys (fqdns) the upstream says `profile` takes; `None` when no token lists it or it came
    /// without a `chatDefinition`, and the static table must decide.
    pub fn parameters(&self, profile: &str) -> Option<&[String]> {
        self.profiles.get(profile)?.parameters.as_deref()
    }

    /// Whether `profile` takes `parameter` (a fqdn, or its short form `temperature`); `None` when the catalogue
    /// does not know.
    pub fn takes(&self, profile: &str, parameter: &str) -> Option<bool> {
        let wanted = parameter
            .strip_prefix(PARAMETER_PREFIX)
            .unwrap_or(parameter);
        Some(
            self.parameters(profile)?
                .iter()
                .any(|p| p.strip_prefix(PARAMETER_PREFIX).unwrap_or(p) == wanted),
        )
    }

    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }

    /// The latest listing of the token with this fingerprint.
    pub fn listing(&self, token: &str) -> Option<&Listing> {
        self.tokens.get(token)
    }

    /// What the tokens with these fingerprints can serve together.
    pub fn servable<'a>(&self, tokens: impl IntoIterator<Item = &'a str>) -> Servable {
        let mut out = Servable::default();
        for token in tokens {
            match self.tokens.get(token) {
                None => out.static_table = true,
                Some(listing) => out.listed.extend(
                    listing
                        .ids
                        .iter()
                        .filter(|id| self.profiles.get(*id).is_some_and(Profile::chats))
                        .cloned(),
                ),
            }
        }
        out
    }

    /// Whether the token's listing is younger than `max_age`.
    pub fn fresh(&self, token: &str, max_age: Duration) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|l| l.asked.elapsed() < max_age)
    }

    fn rebuild_profiles(&mut self, latest: Vec<Profile>) {
        for profile in latest {
            self.profiles.insert(profile.id.clone(), profile);
        }
        let listed: BTreeSet<&String> = self.tokens.values().flat_map(|l| &l.ids).collect();
        self.profiles.retain(|id, _| listed.contains(id));
    }
}

/// The shared, swappable catalogue.
#[derive(Debug, Clone, Default)]
pub struct Catalog(Arc<ArcSwap<Discovered>>);

impl Catalog {
    /// The catalogue as of now, to read without locks.
    pub fn load(&self) -> Arc<Discovered> {
        self.0.load_full()
    }

    /// Whether some token lists this profile id.
    pub fn contains(&self, id: &str) -> bool {
        self.0.load().contains(id)
    }

    /// Replaces token `token`'s listing with its latest answer, received now.
    pub fn record(&self, token: &str, profiles: Vec<Profile>) {
        let (at, asked) = (SystemTime::now(), Instant::now());
        self.0.rcu(|current| {
            let mut next = Discovered::clone(current);
            let ids = profiles.iter().map(|p| p.id.clone()).collect();
            next.tokens
                .insert(token.to_owned(), Listing { ids, at, asked });
            next.rebuild_profiles(profiles.clone());
            next
        });
    }

    /// Forgets the listings of tokens no longer configured (after a reload), and the profiles only they listed.
    pub fn retain_tokens(&self, keep: &BTreeSet<String>) {
        if self.0.load().tokens.keys().all(|t| keep.contains(t)) {
            return;
        }
        self.0.rcu(|current| {
            let mut next = Discovered::clone(current);
            next.tokens.retain(|t, _| keep.contains(t));
            next.rebuild_profiles(Vec::new());
            next
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture() -> Value {
        let text = include_str!("../../tests/fixtures/grazie/profiles/profiles_v8.json");
        let fixture: Value = serde_json::from_str(text).expect("fixture parses");
        fixture["response"].clone()
    }

    #[test]
    fn the_fixture_answer_reads_with_each_profiles_parameters() {
        let profiles = parse(&fixture()).expect("parses");
        let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["anthropic-claude-4-5-sonnet", "openai-gpt-5"]);
        let gpt = &profiles[1];
        assert_eq!(
            gpt.parameters.as_deref(),
            Some(
                &[
                    "llm.parameters.tools".to_string(),
                    "llm.parameters.reasoning-effort".to_string()
                ][..]
            )
        );
        assert!(gpt.chats());
    }

    #[test]
    fn bare_string_parameters_and_profiles_without_a_chat_definition_read_as_ij_does() {
        let body = json!({"profiles": [
            {"id": "google-gemini-2-5-flash-no-tools", "features": ["Chat"],
             "chatDefinition": {"roles": ["user", "assistant", "system"], "parameters": ["llm.parameters.length"]}},
            {"id": "openai-o1", "features": ["Chat"], "deprecated": true},
            {"id": "", "features": ["Chat"]},
            {"provider": "nobody"},
            {"id": "openai-embedding", "features": ["Embedding"], "lifeCycle": {"experimental": true}},
        ]});
        let profiles = parse(&body).expect("parses");
        assert_eq!(profiles.len(), 3);
        assert_eq!(
            profiles[0].parameters.as_deref(),
            Some(&["llm.parameters.length".to_string()][..])
        );
        assert_eq!(
            profiles[1].parameters, None,
            "no chatDefinition says nothing"
        );
        assert!(profiles[1].chats() && !profiles[2].chats());
        assert!(parse(&json!({"data": []})).is_err());
        assert!(parse(&json!([])).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn listings_merge_per_token_and_answer_the_parameter_questions() {
        let catalog = Catalog::default();
        let all = parse(&fixture()).expect("parses");
        catalog.record("sha256:aaaa", all.clone());
        catalog.record("sha256:bbbb", all[..1].to_vec());
        let c = catalog.load();
        assert!(c.contains("openai-gpt-5"));
        assert_eq!(c.takes("openai-gpt-5", "reasoning-effort"), Some(true));
        assert_eq!(
            c.takes("openai-gpt-5", "llm.parameters.temperature"),
            Some(false)
        );
        assert_eq!(c.takes("openai-gpt-4o", "temperature"), None);
        let one = c.servable(["sha256:bbbb"]);
        assert!(!one.static_table);
        assert_eq!(
            one.listed.iter().collect::<Vec<_>>(),
            ["anthropic-claude-4-5-sonnet"]
        );
        let with_unknown = c.servable(["sha256:bbbb", "sha256:never-asked"]);
        assert!(with_unknown.static_table);
        assert!(c.fresh("sha256:aaaa", Duration::from_secs(60)));
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(!c.fresh("sha256:aaaa", Duration::from_secs(60)));

        // A token that stops listing a profile, and a token that leaves the config, take their profiles along.
        catalog.record("sha256:aaaa", all[..1].to_vec());
        assert!(!catalog.contains("openai-gpt-5"));
        catalog.record("sha256:aaaa", all.clone());
        catalog.retain_tokens(&BTreeSet::from(["sha256:bbbb".to_string()]));
        assert!(!catalog.contains("openai-gpt-5"));
        assert!(catalog.contains("anthropic-claude-4-5-sonnet"));
        assert!(catalog.load().listing("sha256:aaaa").is_none());
    }
}
