//! The config core shared by every subcommand: the resolved `Config`, where each value came from, and the errors a
//! user can act on.
//!
//! Loading is two-staged: `file` reads the raw, all-optional JSON (`value` reads each value); `layers` lays
//! defaults < file < env < flags (`env` is the environment's layer, `tokens` the one key loaded by hand) and
//! `validate` checks the result in concrete types. `settings` is the one table of keys that the file's shape, the
//! `Config` and `StartUp` types, the defaults, the redacted `view` and the key list are generated from. Everything
//! after start-up sees only `Config`. `explain` words mistakes for people (key paths, "did you mean");
//! `placeholder` knows the examples' stand-ins; `serving` is what a config must satisfy to serve.

pub mod discovery;
pub mod dotenv;
mod env;
pub mod explain;
pub mod file;
mod layers;
pub mod native_routes;
pub mod placeholder;
pub mod regular_file;
pub mod serving;
pub mod settings;
pub mod state;
mod tokens;
mod validate;
pub mod value;
pub mod view;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

pub use env::Env;
pub use layers::{Overrides, load, load_text};
pub use native_routes::NativeRoutes;
pub use settings::{Config, StartUp};

use crate::models::ModelTable;

/// Where an effective value came from, as `print-config` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// Everything that can make a config unusable. Each message says what is wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: {}{message}", path.display(), key.as_ref().map(|k| format!("{k}: ")).unwrap_or_default())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    #[error("{}: {}; every key is described in config/README.md (keys starting with `_` are comments)", path.display(), unknown_keys(keys))]
    UnknownKey {
        path: PathBuf,
        /// Each unknown key as it may be shown, and the known key it is closest to.
        keys: Vec<(String, Option<String>)>,
    },
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
}

/// `unknown key `x` (did you mean `y`?)`, or `unknown keys `a`, `b` (did you mean `c`?)` for several.
fn unknown_keys(keys: &[(String, Option<String>)]) -> String {
    let list: Vec<String> = keys
        .iter()
        .map(|(key, close)| match close {
            Some(close) => format!("`{key}` (did you mean `{close}`?)"),
            None => format!("`{key}`"),
        })
        .collect();
    let noun = if list.len() == 1 { "key" } else { "keys" };
    format!("unknown {noun} {}", list.join(", "))
}

impl ConfigError {
    pub(crate) fn invalid(origin: impl fmt::Display, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            origin: origin.to_string(),
            message: message.into(),
        }
    }
}

/// Which token serves the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    RoundRobin,
    Random,
    Weighted,
    LeastInflight,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [
        Strategy::RoundRobin,
        Strategy::Random,
        Strategy::Weighted,
        Strategy::LeastInflight,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::Random => "random",
            Strategy::Weighted => "weighted",
            Strategy::LeastInflight => "least_inflight",
        }
    }
}

/// Names a value of a closed set, and lists the valid ones when it does not parse.
macro_rules! named_enum {
    ($ty:ty, $what:literal) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == wanted)
                    .ok_or_else(|| {
                        let valid: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                        format!(
                            "unknown {} \"{text}\"; valid values are: {}",
                            $what,
                            valid.join(", ")
                        )
                    })
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(Strategy, "load balance strategy");

/// What `priority` does: only orders the rotation, or forms tiers that serve in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorityMode {
    /// Every usable token serves; lower `priority` comes first in the rotation order.
    Order,
    /// Only the usable tokens with the lowest `priority` serve; the next tier steps in when a tier has none left.
    Tiers,
}

impl PriorityMode {
    pub const ALL: [PriorityMode; 2] = [PriorityMode::Order, PriorityMode::Tiers];
    pub fn as_str(self) -> &'static str {
        match self {
            PriorityMode::Order => "order",
            PriorityMode::Tiers => "tiers",
        }
    }
}
named_enum!(PriorityMode, "priority mode");

/// How the active health checker tests a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCheckMode {
    /// Ask the quota endpoint: proves the JWT works and costs no quota.
    Quota,
    /// Send a one-word chat, as the seed did; spends quota.
    Chat,
    Off,
}

impl HealthCheckMode {
    pub const ALL: [HealthCheckMode; 3] = [
        HealthCheckMode::Quota,
        HealthCheckMode::Chat,
        HealthCheckMode::Off,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            HealthCheckMode::Quota => "quota",
            HealthCheckMode::Chat => "chat",
            HealthCheckMode::Off => "off",
        }
    }
}
named_enum!(HealthCheckMode, "health check mode");

/// Which generation of the JetBrains chat API to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamApi {
    V8,
    V7,
}

impl UpstreamApi {
    pub const ALL: [UpstreamApi; 2] = [UpstreamApi::V8, UpstreamApi::V7];
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamApi::V8 => "v8",
            UpstreamApi::V7 => "v7",
        }
    }
}
named_enum!(UpstreamApi, "upstream api");

/// Which HTTP version jbproxy speaks to the upstream (`upstream_http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamHttp {
    /// Over https the version the server picks by ALPN (HTTP/2 or 1.1); over plain http HTTP/1.1.
    Auto,
    Http1,
    /// HTTP/2 only: by prior knowledge over plain http, offered alone by ALPN over https.
    Http2,
}

impl UpstreamHttp {
    pub const ALL: [UpstreamHttp; 3] =
        [UpstreamHttp::Auto, UpstreamHttp::Http1, UpstreamHttp::Http2];
    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamHttp::Auto => "auto",
            UpstreamHttp::Http1 => "1.1",
            UpstreamHttp::Http2 => "2",
        }
    }

    /// The file's value: the text, or a number as written (`2`, `1.1`), since a version looks like one.
    pub(crate) fn from_file(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => text.parse(),
            Value::Number(n) => n.to_string().parse(),
            other => Err(format!(
                "{} is not an HTTP version; valid values are: auto, 1.1, 2",
                explain::describe_value(&other)
            )),
        }
    }
}
named_enum!(UpstreamHttp, "upstream HTTP version");

/// One JetBrains JWT and what the operator said about it.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub token: SecretString,
    pub name: String,
    pub description: Option<String>,
    pub priority: i64,
    pub weight: u32,
    pub max_concurrency: Option<u32>,
    pub metadata: Map<String, Value>,
    pub enabled: bool,
    pub license_id: Option<String>,
    /// A fixed account ID token for refreshing: lasts about an hour.
    pub authorization: Option<SecretString>,
    /// An OAuth refresh token for JetBrains' account service: makes ID tokens (and is rotated) for as long as the
    /// account keeps it. The rotated one lives in the state file, never in the config.
    pub refresh_token: Option<SecretString>,
}

impl TokenConfig {
    /// A token with every optional setting at its default: enabled, priority 0, weight 1, no limits.
    pub fn new(name: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            token: SecretString::from(token.into()),
            name: name.into(),
            description: None,
            priority: 0,
            weight: 1,
            max_concurrency: None,
            metadata: Map::new(),
            enabled: true,
            license_id: None,
            authorization: None,
            refresh_token: None,
        }
    }

    /// The short name of the token's secret: its JWT's, or, for an entry that starts without one, its refresh
    /// credential's (so state survives the JWT being renewed, and two such entries never share a slot).
    pub fn fingerprint(&self) -> String {
        let refresh = self.refresh_token.as_ref().or(self.authorization.as_ref());
        match (self.has_jwt(), refresh) {
            (false, Some(credential)) => crate::secret::fingerprint(credential.expose_secret()),
            _ => crate::secret::fingerprint(self.token.expose_secret()),
        }
    }

    /// False for an entry configured with refresh credentials only: jbproxy gets its JWT at start.
    pub fn has_jwt(&self) -> bool {
        !self.token.expose_secret().is_empty()
    }

    /// How the token is named in logs and tables: its name and fingerprint, never its text.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.fingerprint())
    }

    pub fn expires_at(&self) -> Option<SystemTime> {
        crate::jwt::expiry_of(self.token.expose_secret())
    }

    pub fn can_refresh(&self) -> bool {
        self.license_id.is_some() && (self.authorization.is_some() || self.refresh_token.is_some())
    }
}

impl Config {
    pub fn model_table(&self) -> ModelTable {
        ModelTable::with_overrides(&self.models).with_fallback(&self.model_fallback)
    }

    pub fn source_of(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    /// Where a key's value came from, as a place to go and fix it: `.env (line 5)`, `config/config.json`, …
    pub fn origin_of(&self, key: &str) -> String {
        let env = Env::default().with_lines(self.env_file_lines.clone());
        env::origin_text(&self.source_of(key), &env)
    }

    /// The address serve binds, as `host:port` (IPv6 hosts bracketed).
    pub fn listen_address(&self) -> String {
        let StartUp {
            server_host: host,
            server_port: port,
            ..
        } = &self.start_up;
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }
}

pub const DEFAULT_UPSTREAM_URL: &str = "https://api.jetbrains.ai";
/// JetBrains' account service, which turns a refresh token into an ID token (docs/UPSTREAM.md, "Authentication").
pub const DEFAULT_OAUTH_URL: &str = "https://oauth.account.jetbrains.com/oauth2/token";
/// The IDE 2026.1 value JetBrains' own client sends (docs/UPSTREAM.md, "Hosts, paths, headers").
pub const DEFAULT_GRAZIE_AGENT: &str =
    r#"{"name":"aia:idea","version":"261.22158.366:261.22158.277"}"#;

#[cfg(test)]
mod tests;
