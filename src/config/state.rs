//! The `state` key: where the pool's state lives. `memory` (the default) keeps it in this process; `redis` shares
//! it with every replica that names the same Redis and prefix (docs/DEPLOY.md). Only read here; the Redis I/O is
//! `crate::cluster`'s.

use serde_json::{Value, json};

/// The prefix every key and the pub/sub channel start with, unless the config names another.
pub const DEFAULT_PREFIX: &str = "jbproxy:";

#[derive(Clone, PartialEq, Eq, Default)]
pub enum StateBackend {
    #[default]
    Memory,
    Redis {
        /// `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). Holds a password: never shown whole.
        url: String,
        prefix: String,
    },
}

/// The URL may carry a password: `Debug` (config dumps in logs and panics) shows it redacted.
impl std::fmt::Debug for StateBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateBackend::Memory => f.write_str("Memory"),
            StateBackend::Redis { url, prefix } => f
                .debug_struct("Redis")
                .field("url", &crate::secret::redact_url(url))
                .field("prefix", prefix)
                .finish(),
        }
    }
}

impl StateBackend {
    /// The redacted view (`print-config`, `GET /config`).
    pub fn shown(&self) -> Value {
        match self {
            StateBackend::Memory => json!({"backend": "memory"}),
            StateBackend::Redis { url, prefix } => json!({
                "backend": "redis",
                "url": crate::secret::redact_url(url),
                "prefix": prefix,
            }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            StateBackend::Memory => "memory",
            StateBackend::Redis { .. } => "redis",
        }
    }
}

/// The file's `state` object: `{"backend": "memory"}` or `{"backend": "redis", "url": "redis://…", "prefix": "…"}`
/// (`backend` may be left out when `url` is given).
pub fn parse(value: Value) -> Result<StateBackend, String> {
    let Value::Object(map) = value else {
        return Err(
            "must be an object such as {\"backend\": \"redis\", \"url\": \"redis://127.0.0.1:6379\"}".into(),
        );
    };
    for key in map.keys() {
        if !["backend", "url", "prefix"].contains(&key.as_str()) && !key.starts_with('_') {
            return Err(format!(
                "unknown key \"{key}\"; the keys are backend (memory or redis), url and prefix"
            ));
        }
    }
    let text = |key: &str| match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(format!("{key} must be a string")),
    };
    let url = text("url")?;
    let backend = text("backend")?
        .unwrap_or_else(|| if url.is_some() { "redis" } else { "memory" }.to_string());
    match backend.as_str() {
        "memory" => Ok(StateBackend::Memory),
        "redis" | "valkey" => {
            let url = url.ok_or(
                "the redis backend needs a url, e.g. \"url\": \"redis://127.0.0.1:6379\" (or set STATE_URL)",
            )?;
            let prefix = text("prefix")?.unwrap_or_else(|| DEFAULT_PREFIX.to_string());
            if prefix.is_empty() {
                return Err("prefix must not be empty: replicas that share a Redis tell their keys apart by it".into());
            }
            Ok(StateBackend::Redis {
                url: check_url(&url)?,
                prefix,
            })
        }
        other => Err(format!(
            "unknown backend \"{other}\"; use \"memory\" (this process only) or \"redis\" (shared by replicas)"
        )),
    }
}

/// `STATE_URL`: a Redis URL (the default prefix), or `memory`.
pub fn from_env(text: &str) -> Result<StateBackend, String> {
    match text.trim() {
        "memory" => Ok(StateBackend::Memory),
        url => Ok(StateBackend::Redis {
            url: check_url(url)?,
            prefix: DEFAULT_PREFIX.to_string(),
        }),
    }
}

/// Checks the URL's form without connecting. The message never repeats the URL (it may hold a password).
fn check_url(url: &str) -> Result<String, String> {
    let scheme_ok = url.starts_with("redis://") || url.starts_with("rediss://");
    if !scheme_ok || redis::Client::open(url).is_err() {
        return Err(
            "is not a Redis URL; write redis://[user:password@]host[:port][/db], or rediss://… for TLS".into(),
        );
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_follows_from_the_url_and_mistakes_are_named() {
        assert_eq!(parse(json!({})), Ok(StateBackend::Memory));
        assert_eq!(
            parse(json!({"url": "redis://:pw@127.0.0.1:6390/2"})),
            Ok(StateBackend::Redis {
                url: "redis://:pw@127.0.0.1:6390/2".into(),
                prefix: DEFAULT_PREFIX.into()
            })
        );
        let err = parse(json!({"backend": "redis"})).expect_err("no url");
        assert!(err.contains("needs a url"), "{err}");
        let err = parse(json!({"url": "http://user:secret@x"})).expect_err("not redis");
        assert!(
            err.contains("not a Redis URL") && !err.contains("secret"),
            "{err}"
        );
        let err = parse(json!({"backend": "etcd"})).expect_err("unknown");
        assert!(err.contains("\"etcd\""), "{err}");
        let err = parse(json!({"urls": "redis://x"})).expect_err("typo");
        assert!(err.contains("\"urls\""), "{err}");
        let shown = format!("{:?}", from_env("rediss://u:hunter2@h:6380").expect("url"));
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
