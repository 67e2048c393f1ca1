//! The effective config as people and scripts see it: the config file's own keys with secrets redacted, and the
//! source of each value. `print-config` and the admin `/config` endpoint both show this view.

use secrecy::ExposeSecret;
use serde_json::{Map, Value, json};

use super::Config;
use crate::secret::redacted;

/// One object keyed like the config file, every secret replaced by its fingerprint, plus `sources`.
pub fn redacted_json(config: &Config) -> Value {
    let tokens: Vec<Value> = config
        .tokens
        .iter()
        .map(|t| {
            let mut entry = json!({
                "token": redacted(t.token.expose_secret()),
                "name": t.name,
                "description": t.description,
                "priority": t.priority,
                "weight": t.weight,
                "max_concurrency": t.max_concurrency,
                "metadata": t.metadata,
                "enabled": t.enabled,
                "expires_at": t.expires_at().map(crate::jwt::rfc3339),
            });
            if let (Some(license), Some(auth), Value::Object(map)) =
                (&t.license_id, &t.authorization, &mut entry)
            {
                map.insert("license_id".into(), json!(license));
                map.insert(
                    "authorization".into(),
                    json!(redacted(auth.expose_secret())),
                );
            }
            entry
        })
        .collect();
    let secret =
        |s: &Option<secrecy::SecretString>| s.as_ref().map(|s| redacted(s.expose_secret()));
    let mut out = json!({
        "jetbrains_tokens": tokens,
        "bearer_token": secret(&config.bearer_token),
        "admin_token": secret(&config.admin_token),
        "load_balance_strategy": config.strategy.as_str(),
        "priority_mode": config.priority_mode.as_str(),
        "health_check_interval": humantime::format_duration(config.health_check_interval).to_string(),
        "health_check_mode": config.health_check_mode.as_str(),
        "server_port": config.server_port,
        "server_host": config.server_host,
        "upstream_url": crate::secret::redact_url(&config.upstream_url),
        "upstream_api": config.upstream_api.as_str(),
        "grazie_agent": serde_json::from_str::<Value>(&config.grazie_agent).unwrap_or(Value::Null),
        "models": config.model_table().as_map(),
        "model_fallback": model_fallback(config),
        "connect_timeout": humantime::format_duration(config.connect_timeout).to_string(),
        "request_timeout": humantime::format_duration(config.request_timeout).to_string(),
        "first_byte_timeout": humantime::format_duration(config.first_byte_timeout).to_string(),
        "idle_timeout": humantime::format_duration(config.idle_timeout).to_string(),
        "max_attempts": config.max_attempts,
        "watch_config": config.watch_config,
        "max_body_size": config.max_body_size,
        "shutdown_grace": humantime::format_duration(config.shutdown_grace).to_string(),
        "max_connections": config.max_connections,
        "client_header_timeout": humantime::format_duration(config.client_header_timeout).to_string(),
        "client_body_timeout": humantime::format_duration(config.client_body_timeout).to_string(),
        "client_idle_timeout": humantime::format_duration(config.client_idle_timeout).to_string(),
        "max_header_size": config.max_header_size,
    });
    let sources: Map<String, Value> = keys(&out)
        .into_iter()
        .map(|key| {
            let source = config.source_of(&key).to_string();
            (key, Value::String(source))
        })
        .collect();
    if let Value::Object(map) = &mut out {
        map.insert("sources".into(), Value::Object(sources));
    }
    out
}

fn keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
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
