//! The effective config as people and scripts see it: the config file's own keys with secrets redacted, and the
//! source of each value. `print-config` and the admin `/config` endpoint both show this view.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};

use super::{Config, HealthCheckMode, PriorityMode, Strategy, UpstreamApi, UpstreamHttp};
use crate::secret::redacted;

/// How a setting's value looks in the view: durations as humantime text, keys by fingerprint, enums by name.
/// `settings.rs` names its own rendering for the few values this does not fit (a URL with a password in it).
pub trait Show {
    fn show(&self) -> Value;
}

impl Show for Duration {
    fn show(&self) -> Value {
        Value::String(humantime::format_duration(*self).to_string())
    }
}

impl Show for Option<SecretString> {
    fn show(&self) -> Value {
        json!(self.as_ref().map(|s| redacted(s.expose_secret())))
    }
}

macro_rules! show_as_json {
    ($($ty:ty),*) => {$(
        impl Show for $ty {
            fn show(&self) -> Value {
                json!(self)
            }
        }
    )*};
}
show_as_json!(bool, u16, u32, u64, String, Option<u32>);

macro_rules! show_by_name {
    ($($ty:ty),*) => {$(
        impl Show for $ty {
            fn show(&self) -> Value {
                Value::from(self.as_str())
            }
        }
    )*};
}
show_by_name!(
    Strategy,
    PriorityMode,
    HealthCheckMode,
    UpstreamApi,
    UpstreamHttp
);

/// One object keyed like the config file, every secret replaced by its fingerprint, plus `sources`.
pub fn redacted_json(config: &Config) -> Value {
    let tokens: Vec<Value> = config
        .tokens
        .iter()
        .map(|t| {
            let mut entry = json!({
                "token": if t.has_jwt() {
                    json!(redacted(t.token.expose_secret()))
                } else {
                    Value::Null
                },
                "name": t.name,
                "description": t.description,
                "priority": t.priority,
                "weight": t.weight,
                "max_concurrency": t.max_concurrency,
                "metadata": t.metadata,
                "enabled": t.enabled,
                "expires_at": t.expires_at().map(crate::jwt::rfc3339),
            });
            if let (Some(license), Value::Object(map)) = (&t.license_id, &mut entry) {
                map.insert("license_id".into(), json!(license));
                for (key, secret) in [
                    ("authorization", &t.authorization),
                    ("refresh_token", &t.refresh_token),
                ] {
                    if let Some(secret) = secret {
                        map.insert(key.into(), json!(redacted(secret.expose_secret())));
                    }
                }
            }
            entry
        })
        .collect();
    let mut out = Map::new();
    out.insert("jetbrains_tokens".into(), Value::Array(tokens));
    super::settings::show_all(config, &mut out);
    // Shown resolved: each pattern with the profile it serves, which depends on the model table.
    out.insert("model_fallback".into(), model_fallback(config));
    let sources: Map<String, Value> = out
        .keys()
        .map(|key| {
            (
                key.clone(),
                Value::String(config.source_of(key).to_string()),
            )
        })
        .collect();
    out.insert("sources".into(), Value::Object(sources));
    Value::Object(out)
}

/// `(key, value, source)` rows for a human-readable view, with tokens listed one per row.
pub fn rows(config: &Config) -> Vec<(String, String, String)> {
    let json = redacted_json(config);
    let Some(map) = json.as_object() else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (key, value) in map {
        if key == "sources" || key == "models" || key == "model_fallback" {
            continue;
        }
        let source = config.source_of(key).to_string();
        if key == "jetbrains_tokens" {
            if config.tokens.is_empty() {
                rows.push((key.clone(), "(none)".into(), source.clone()));
            }
            for t in &config.tokens {
                let mut text = t.label();
                if !t.enabled {
                    text.push_str(", disabled");
                }
                text.push_str(&format!(", priority {}, weight {}", t.priority, t.weight));
                if let Some(exp) = t.expires_at() {
                    text.push_str(&format!(", expires {}", crate::jwt::rfc3339(exp)));
                }
                rows.push((key.clone(), text, source.clone()));
            }
            continue;
        }
        let shown = match value {
            Value::Null => "(not set)".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        rows.push((key.clone(), shown, source));
    }
    let custom = config.models.len();
    rows.push((
        "models".into(),
        format!(
            "{} aliases ({custom} from config); see `--json` for the table",
            config.model_table().as_map().len()
        ),
        config.source_of("models").to_string(),
    ));
    let table = config.model_table();
    let patterns = table.fallback().rules();
    let custom = patterns.iter().filter(|r| r.family.is_none()).count();
    rows.push((
        "model_fallback".into(),
        match config.model_fallback.enabled {
            false => "off".to_string(),
            true => format!(
                "{} patterns ({custom} from config); see `--json` for them",
                patterns.len()
            ),
        },
        config.source_of("model_fallback").to_string(),
    ));
    rows
}

/// The effective fallback: `false` when off, else each pattern with the profile it serves.
fn model_fallback(config: &Config) -> Value {
    if !config.model_fallback.enabled {
        return Value::Bool(false);
    }
    let table = config.model_table();
    let patterns: Map<String, Value> = table
        .fallback()
        .rules()
        .iter()
        .map(|r| (r.pattern.clone(), Value::String(r.profile.clone())))
        .collect();
    Value::Object(patterns)
}
