//! The one table of config keys: for each top-level key of the config file, its type, its default, which layers
//! may set it, whether the server reads it only at start-up, and (where the plain rendering will not do) how the
//! redacted view shows it.
//!
//! Everything else about a key is generated from its row: the field of the file's shape (`FileConfig`), the field
//! of `Config` or of `StartUp`, the loader's pick with its default and provenance, the key in the redacted view, the
//! key list for "did you mean", and the restart-needed set of a reload. So a new key is one row here plus the code
//! that uses it (and its line in config/README.md). `jetbrains_tokens` is the one key loaded by hand (`tokens.rs`).

use std::collections::BTreeMap;
use std::str::FromStr as _;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::file::FileToken;
use super::layers::Rule;
use super::validate::{
    grazie_agent_header, non_empty, parse_oauth_url, parse_upstream_url, port_text, validate_models,
};
use super::value::parse_duration;
use super::view::Show;
use super::{
    ConfigError, DEFAULT_GRAZIE_AGENT, DEFAULT_OAUTH_URL, DEFAULT_UPSTREAM_URL, Env,
    HealthCheckMode, NativeRoutes, Overrides, PriorityMode, Source, Strategy, TokenConfig,
    UpstreamApi, UpstreamHttp,
};
use crate::models::ModelTable;
use crate::models::fallback::FallbackConfig;
use crate::profiles::ProfileOverride;

/// Writes the types and functions the module doc lists from the rows below. A row is
/// `key: Type, file FileType [as "deserializer"], rule RULE [, show SHOW];` where `FileType` is what serde reads
/// from the file (always optional there), `RULE` says how the layers give the value (its default included), and
/// `SHOW` turns the value into the redacted view's JSON when `view::Show` does not.
macro_rules! settings {
    (
        live { $( $(#[$ldoc:meta])* $lkey:ident: $lty:ty, file $lfile:ty $(as $lde:literal)?,
            rule $lrule:expr $(, show $lshow:expr)?; )* }
        start_up { $( $(#[$sdoc:meta])* $skey:ident: $sty:ty, file $sfile:ty $(as $sde:literal)?,
            rule $srule:expr $(, show $sshow:expr)?; )* }
    ) => {
        /// The whole file. Unknown keys are collected so they can be refused by name, unless they start with `_`
        /// (the JSON stand-in for a comment). Every field is optional here; defaults are applied when the layers
        /// are merged, so that `print-config` can tell a value the user wrote from one jbproxy chose.
        #[derive(Debug, Default, Deserialize)]
        #[serde(expecting = "a JSON object such as {\"jetbrains_tokens\": [...], \"server_port\": 8080}")]
        pub struct FileConfig {
            pub jetbrains_tokens: Option<Vec<FileToken>>,
            $( $(#[serde(default, deserialize_with = $lde)])? pub $lkey: Option<$lfile>, )*
            $( $(#[serde(default, deserialize_with = $sde)])? pub $skey: Option<$sfile>, )*
            #[serde(flatten)]
            pub unknown: BTreeMap<String, Value>,
        }

        /// The effective, validated configuration. What a reload may change is here; what the server reads only
        /// once is in `start_up`, which a reload keeps.
        #[derive(Debug, Clone)]
        pub struct Config {
            pub tokens: Vec<TokenConfig>,
            $( $(#[$ldoc])* pub $lkey: $lty, )*
            pub start_up: StartUp,
            /// The config file that was read, if any.
            pub file: Option<std::path::PathBuf>,
            /// Where each top-level key's value came from.
            pub sources: BTreeMap<&'static str, Source>,
            /// Problems that do not stop jbproxy but that the user should hear about (e.g. an expired token).
            pub warnings: Vec<String>,
            /// The `.env` line each environment value came from (same variable, same value), for messages.
            pub env_file_lines: BTreeMap<&'static str, usize>,
        }

        /// The settings the server reads only at start-up (the listener, connection handling, the shutdown plan,
        /// the watcher). A reload keeps the running ones and names those that changed as needing a restart.
        #[derive(Debug, Clone, PartialEq)]
        pub struct StartUp {
            $( $(#[$sdoc])* pub $skey: $sty, )*
        }

        impl StartUp {
            /// The keys whose value differs between `self` and `other`.
            pub fn changed(&self, other: &StartUp) -> Vec<&'static str> {
                let mut changed = Vec::new();
                $( if self.$skey != other.$skey { changed.push(stringify!($skey)); } )*
                changed
            }
        }

        /// Every top-level key of the config file, for "did you mean" suggestions.
        pub const TOP_LEVEL_KEYS: &[&str] = &[
            "jetbrains_tokens",
            $( stringify!($lkey), )*
            $( stringify!($skey), )*
            // Not keys, but what someone who knows the environment variables may write: suggested as the real key.
            "jwt_tokens",
            "jwt_token",
        ];

        /// The keys only start-up reads.
        pub const START_UP_KEYS: &[&str] = &[ $( stringify!($skey), )* ];

        /// Picks every key but the tokens from the layers, each with its default.
        pub(super) fn pick_all(
            raw: FileConfig,
            layers: &mut super::layers::Layers,
            env: &Env,
            overrides: &Overrides,
            tokens: Vec<TokenConfig>,
        ) -> Result<Config, ConfigError> {
            $( let $lkey = layers.apply(stringify!($lkey), raw.$lkey, $lrule, env, overrides)?; )*
            $( let $skey = layers.apply(stringify!($skey), raw.$skey, $srule, env, overrides)?; )*
            Ok(Config {
                tokens,
                $( $lkey, )*
                start_up: StartUp { $( $skey, )* },
                file: layers.file_path(),
                sources: layers.take_sources(),
                warnings: Vec::new(),
                env_file_lines: env.lines().clone(),
            })
        }

        /// Every key but the tokens as the redacted view shows it.
        pub(super) fn show_all(config: &Config, out: &mut Map<String, Value>) {
            $( out.insert(stringify!($lkey).into(), shown!(&config.$lkey $(, $lshow)?)); )*
            $( out.insert(stringify!($skey).into(), shown!(&config.start_up.$skey $(, $sshow)?)); )*
        }
    };
}

macro_rules! shown {
    ($value:expr) => {
        Show::show($value)
    };
    ($value:expr, $show:expr) => {
        ($show)($value)
    };
}

settings! {
    live {
        /// The key clients must send (`Authorization: Bearer …` or `x-api-key`); none means no check.
        bearer_token: Option<SecretString>, file String,
            rule Rule::secret().env_secret("BEARER_TOKEN").flag_secret("--bearer-token", |o| o.bearer_token.as_deref());
        /// The key for the management endpoints; the client key when unset.
        admin_token: Option<SecretString>, file String, rule Rule::secret().env_secret("ADMIN_TOKEN");
        load_balance_strategy: Strategy, file String,
            rule Rule::text(Strategy::RoundRobin, Strategy::from_str)
                .env("LOAD_BALANCE_STRATEGY", Strategy::from_str)
                .flag("--strategy", |o| o.strategy.as_deref().map(Strategy::from_str));
        priority_mode: PriorityMode, file String, rule Rule::text(PriorityMode::Order, PriorityMode::from_str);
        health_check_interval: Duration, file Duration as "super::value::opt_duration",
            rule Rule::plain(Duration::from_secs(30)).env("HEALTH_CHECK_INTERVAL", parse_duration);
        health_check_mode: HealthCheckMode, file String,
            rule Rule::text(HealthCheckMode::Quota, HealthCheckMode::from_str)
                .env("HEALTH_CHECK_MODE", HealthCheckMode::from_str);
        upstream_url: String, file String,
            rule Rule::text(DEFAULT_UPSTREAM_URL.to_string(), parse_upstream_url)
                .env("UPSTREAM_URL", parse_upstream_url)
                .flag("--upstream-url", |o| o.upstream_url.as_deref().map(parse_upstream_url)),
            show |url: &String| Value::from(crate::secret::redact_url(url));
        upstream_api: UpstreamApi, file String, rule Rule::text(UpstreamApi::V8, UpstreamApi::from_str);
        /// Which HTTP version to speak to the upstream; a reload that changes it builds a new client.
        upstream_http: UpstreamHttp, file Value,
            rule Rule::file(UpstreamHttp::Auto, UpstreamHttp::from_file)
                .env("UPSTREAM_HTTP", UpstreamHttp::from_str);
        /// Which model families go to JetBrains AI's native provider routes (opt-in; docs/UPSTREAM.md).
        native_routes: NativeRoutes, file Value,
            rule Rule::file(NativeRoutes::default(), NativeRoutes::parse),
            show NativeRoutes::show;
        /// JetBrains' account OAuth endpoint, which turns a token's `refresh_token` into an ID token.
        oauth_url: String, file String,
            rule Rule::text(DEFAULT_OAUTH_URL.to_string(), parse_oauth_url),
            show |url: &String| Value::from(crate::secret::redact_url(url));
        /// The `grazie-agent` header value: a one-line JSON object.
        grazie_agent: String, file Value,
            rule Rule::file(DEFAULT_GRAZIE_AGENT.to_string(), grazie_agent_header),
            show |agent: &String| serde_json::from_str::<Value>(agent).unwrap_or(Value::Null);
        /// Only the user's own entries; `model_table()` merges them over the built-in ones.
        models: BTreeMap<String, String>, file BTreeMap<String, String>,
            rule Rule::file(BTreeMap::new(), validate_models),
            show |models: &BTreeMap<String, String>| serde_json::json!(ModelTable::with_overrides(models).as_map());
        /// Which unknown model ids fall back to the newest profile of their family (default: on, with the
        /// built-in families). The view shows it resolved against the model table (`view::redacted_json`).
        model_fallback: FallbackConfig, file Value,
            rule Rule::file(FallbackConfig::default(), crate::models::fallback::parse_config),
            show |_: &FallbackConfig| Value::Null;
        /// The operator's entries, laid over the built-in profile table (`crate::profiles`): which upstream
        /// parameters a profile takes, and whether it takes prefill.
        profile_parameters: BTreeMap<String, ProfileOverride>, file Value,
            rule Rule::file(BTreeMap::new(), crate::profiles::parse_overrides),
            show crate::profiles::overrides_json;
        connect_timeout: Duration, file Duration as "super::value::opt_duration",
            rule Rule::plain(Duration::from_secs(10));
        first_byte_timeout: Duration, file Duration as "super::value::opt_duration",
            rule Rule::plain(Duration::from_secs(60));
        idle_timeout: Duration, file Duration as "super::value::opt_duration",
            rule Rule::plain(Duration::from_secs(120));
        request_timeout: Duration, file Duration as "super::value::opt_duration",
            rule Rule::plain(Duration::from_secs(30));
        /// Attempts per request; none means every enabled token once, at most 10.
        max_attempts: Option<u32>, file u32 as "super::value::opt_attempts", rule Rule::file(None, |n| Ok(Some(n)));
        max_body_size: u64, file u64 as "super::value::opt_byte_size", rule Rule::plain(32 * 1024 * 1024);
    }
    start_up {
        server_host: String, file String,
            rule Rule::text("127.0.0.1".to_string(), host_text)
                .env("SERVER_HOST", host_text)
                .flag("--host", |o| o.host.as_deref().map(host_text));
        server_port: u16, file u16 as "super::value::opt_port",
            rule Rule::plain(8080).env("SERVER_PORT", port_text).flag("--port", |o| o.port.map(Ok));
        /// Open client connections at most; more are closed at once (a flood must not exhaust file descriptors).
        max_connections: u32, file u32 as "super::value::opt_connections", rule Rule::plain(4096);
        /// A client must send its request headers within this time (slowloris).
        client_header_timeout: Duration, file Duration as "super::value::opt_duration",
            rule Rule::plain(Duration::from_secs(10));
        /// A client must send its whole request body within this time.
        client_body_timeout: Duration, file Duration as "super::value::opt_duration",
            rule Rule::plain(Duration::from_secs(30));
        /// A keep-alive client connection with no request open is closed after this long.
        client_idle_timeout: Duration, file Duration as "super::value::opt_duration",
            rule Rule::plain(Duration::from_secs(60));
        /// Header bytes one request may carry; also caps a connection's read buffer, so what an unauthenticated
        /// client can make the server hold.
        max_header_size: u64, file u64 as "super::value::opt_byte_size", rule Rule::plain(64 * 1024);
        /// Event loops serving client connections, each a thread of its own with its own upstream connections;
        /// 0 means one per CPU core.
        worker_threads: u32, file u32 as "super::value::opt_worker_threads",
            rule Rule::plain(0).env("WORKER_THREADS", worker_threads_text);
        shutdown_grace: Duration, file Duration as "super::value::opt_duration",
            rule Rule::plain(Duration::from_secs(30));
        watch_config: bool, file bool, rule Rule::plain(true);
        /// Where rotated refresh tokens are kept (mode 0600); beside the config file unless set, and nowhere when
        /// there is no config file. A relative path is taken from the config file's directory.
        state_file: Option<std::path::PathBuf>, file String,
            rule Rule::file(None, state_file_path),
            show |path: &Option<std::path::PathBuf>| serde_json::json!(path.as_ref().map(|p| p.display().to_string()));
        /// Where the pool's state lives: this process (`memory`) or a Redis every replica shares (`redis`).
        state: super::state::StateBackend, file Value,
            rule Rule::file(super::state::StateBackend::Memory, super::state::parse)
                .env("STATE_URL", super::state::from_env),
            show super::state::StateBackend::shown;
    }
}

fn state_file_path(text: String) -> Result<Option<std::path::PathBuf>, String> {
    match text.trim() {
        "" => Err(
            "must be a file path; leave the key out for the default beside the config file".into(),
        ),
        path => Ok(Some(std::path::PathBuf::from(path))),
    }
}

fn worker_threads_text(text: &str) -> Result<u32, String> {
    text.trim()
        .parse::<u32>()
        .map_err(|_| "must be a whole number (0: one per CPU core)".to_string())
        .and_then(|n| super::value::worker_threads(n).map_err(str::to_string))
}

fn host_text(text: &str) -> Result<String, String> {
    non_empty(text, "a host name or IP address")
}
