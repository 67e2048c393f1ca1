//! What a loaded config must satisfy beyond each value's own type: ranges, non-zero timeouts, and the checks of
//! values written as text (URLs, host names, the agent header, model aliases).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::layers::format_key;
use super::{Config, ConfigError, DEFAULT_GRAZIE_AGENT, DEFAULT_UPSTREAM_URL, HealthCheckMode};

pub(super) fn validate(config: &Config) -> Result<(), ConfigError> {
    let origin = |key| format_key(Some(&config.source_of(key)), key);
    if config.max_attempts == Some(0) {
        return Err(ConfigError::invalid(
            origin("max_attempts"),
            "must be at least 1 (leave it out to try every usable token once, at most 10)",
        ));
    }
    if config.max_body_size < 1024 {
        return Err(ConfigError::invalid(
            origin("max_body_size"),
            "must be at least 1KiB; the default is \"32MiB\"",
        ));
    }
    if config.health_check_mode != HealthCheckMode::Off
        && config.health_check_interval < Duration::from_secs(1)
    {
        return Err(ConfigError::invalid(
            origin("health_check_interval"),
            "must be at least 1s; set health_check_mode to \"off\" to disable checks",
        ));
    }
    let start_up = &config.start_up;
    let timeouts = [
        ("connect_timeout", config.connect_timeout),
        ("request_timeout", config.request_timeout),
        ("first_byte_timeout", config.first_byte_timeout),
        ("idle_timeout", config.idle_timeout),
        ("client_header_timeout", start_up.client_header_timeout),
        ("client_body_timeout", start_up.client_body_timeout),
        ("client_idle_timeout", start_up.client_idle_timeout),
    ];
    if let Some((key, _)) = timeouts.iter().find(|(_, value)| value.is_zero()) {
        return Err(ConfigError::invalid(origin(key), "must be longer than 0s"));
    }
    if start_up.max_connections == 0 {
        return Err(ConfigError::invalid(
            origin("max_connections"),
            "must be at least 1; the default is 4096",
        ));
    }
    // hyper's floor for a connection's read buffer; it panics below it.
    if !(8 * 1024..=u64::from(u32::MAX)).contains(&start_up.max_header_size) {
        return Err(ConfigError::invalid(
            origin("max_header_size"),
            "must be between 8KiB and 4GiB; the default is 64KiB",
        ));
    }
    Ok(())
}

pub(super) fn non_empty(v: &str, what: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty() {
        Err(format!("is empty; give {what}"))
    } else {
        Ok(v.to_string())
    }
}

/// `SERVER_PORT`'s text as a port.
pub(super) fn port_text(v: &str) -> Result<u16, String> {
    v.trim()
        .parse::<u16>()
        .map_err(|_| format!("\"{v}\" is not a port number; use a whole number from 0 to 65535"))
}

pub(super) fn parse_upstream_url(v: &str) -> Result<String, String> {
    parse_http_url(v, DEFAULT_UPSTREAM_URL)
}

/// `oauth_url`: as `upstream_url`, with its own example in the error.
pub(super) fn parse_oauth_url(v: &str) -> Result<String, String> {
    parse_http_url(v, super::DEFAULT_OAUTH_URL)
}

fn parse_http_url(v: &str, example: &str) -> Result<String, String> {
    // Errors quote the value, so a password in it is redacted first.
    let shown = crate::secret::redact_url(v);
    let url = reqwest::Url::parse(v.trim())
        .map_err(|e| format!("\"{shown}\" is not a URL ({e}); use e.g. {example}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "\"{shown}\" must start with https:// (or http:// for a local test upstream)"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

pub(super) fn grazie_agent_header(value: Value) -> Result<String, String> {
    match value {
        Value::Object(_) => Ok(value.to_string()),
        Value::String(s) if serde_json::from_str::<serde_json::Map<String, Value>>(&s).is_ok() => {
            Ok(serde_json::from_str::<Value>(&s)
                .map(|v| v.to_string())
                .unwrap_or(s))
        }
        _ => Err(format!(
            "must be a JSON object such as {DEFAULT_GRAZIE_AGENT} (or a string holding one)"
        )),
    }
}

pub(super) fn validate_models(
    models: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    match models
        .iter()
        .find(|(alias, profile)| alias.trim().is_empty() || profile.trim().is_empty())
    {
        Some((alias, _)) => Err(format!(
            "entry \"{alias}\" needs a non-empty alias and profile id"
        )),
        None => Ok(models
            .into_iter()
            .filter(|(alias, _)| !alias.starts_with('_'))
            .collect()),
    }
}
