//! Layering: defaults < config file < environment < command-line flags, with the source of every value kept, then
//! validation into a `Config`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use super::file::{self, FileConfig, FileToken};
use super::{
    Config, ConfigError, DEFAULT_GRAZIE_AGENT, DEFAULT_UPSTREAM_URL, HealthCheckMode, PriorityMode,
    Source, Strategy, TokenConfig, UpstreamApi, discovery,
};

/// The config values a command line can set. The CLI fills this in; the config core knows nothing of clap.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub jwt_tokens: Option<String>,
    pub bearer_token: Option<String>,
    pub strategy: Option<String>,
    pub port: Option<u16>,
    pub host: Option<String>,
    pub upstream_url: Option<String>,
}

/// A snapshot of the environment variables jbproxy reads, so loading is a pure function of its inputs.
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    home: Option<PathBuf>,
    /// The `.env` line each variable's value came from, for messages that point at the line to fix.
    env_file_lines: BTreeMap<&'static str, usize>,
    /// Variables that look like a misspelt one of ours (`JWT_TOKES`), as warnings.
    warnings: Vec<String>,
}

impl Env {
    pub const NAMES: [&'static str; 11] = [
        "JWT_TOKENS",
        "JWT_TOKEN",
        "BEARER_TOKEN",
        "ADMIN_TOKEN",
        "LOAD_BALANCE_STRATEGY",
        "SERVER_HOST",
        "SERVER_PORT",
        "CONFIG_FILE",
        "UPSTREAM_URL",
        "HEALTH_CHECK_INTERVAL",
        "HEALTH_CHECK_MODE",
    ];

    pub fn from_process() -> Self {
        let vars = Self::NAMES
            .iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
            .collect();
        let env_file = Path::new(super::dotenv::FILE_NAME);
        let names: Vec<String> = std::env::vars_os()
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        let mut env = Self {
            vars,
            home: std::env::var_os("HOME").map(PathBuf::from),
            ..Self::default()
        }
        .with_env_file(env_file);
        env.warnings = misspelt_variables(&names, &super::dotenv::lines(env_file));
        env
    }

    pub(crate) fn with_lines(mut self, lines: BTreeMap<&'static str, usize>) -> Self {
        self.env_file_lines = lines;
        self
    }

    /// Notes which values came from this `.env` file (same variable, same value) and on which line.
    pub fn with_env_file(mut self, path: &Path) -> Self {
        let lines = super::dotenv::lines(path);
        self.env_file_lines = Self::NAMES
            .iter()
            .filter_map(|name| {
                let (line, value) = lines.get(*name)?;
                (self.vars.get(*name) == Some(value)).then_some((*name, *line))
            })
            .collect();
        self
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Self::default()
        }
    }

    pub fn with_home(mut self, home: impl Into<PathBuf>) -> Self {
        self.home = Some(home.into());
        self
    }

    fn get(&self, name: &'static str) -> Option<(&'static str, &str)> {
        self.vars
            .get(name)
            .map(|v| (name, v.as_str()))
            .filter(|(_, v)| !v.trim().is_empty())
    }

    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }
}

/// Loads the effective config from all layers and validates it.
pub fn load(overrides: &Overrides, env: &Env) -> Result<Config, ConfigError> {
    let found = discovery::find(
        overrides.config_file.as_deref(),
        env.get("CONFIG_FILE").map(|(_, v)| v),
        env.home(),
    )?;
    let (raw, file_path) = match &found {
        Some((path, _)) => (file::read(path)?, Some(path.clone())),
        None => (FileConfig::default(), None),
    };
    load_layers(raw, file_path, overrides, env)
}

/// Loads `text` as if it were the config file at `path`, with no environment and no flags: what that file alone
/// gives. `generate-config` checks what it is about to write with this, so the file always loads.
pub fn load_text(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let raw = file::parse(text, path)?;
    load_layers(
        raw,
        Some(path.to_path_buf()),
        &Overrides::default(),
        &Env::default(),
    )
}

fn load_layers(
    raw: FileConfig,
    file_path: Option<PathBuf>,
    overrides: &Overrides,
    env: &Env,
) -> Result<Config, ConfigError> {
    let mut layers = Layers {
        sources: BTreeMap::new(),
        file: file_path.clone().map(Source::File),
    };
    let mut warnings = env.warnings.clone();

    let tokens = layers.tokens(&raw, overrides, env)?;
    let token_origin = origin_text(&layers.source("jetbrains_tokens"), env);
    for token in &tokens {
        warnings.extend(token_warning(token, &token_origin, SystemTime::now()));
    }

    let strategy = layers.parsed(
        "load_balance_strategy",
        raw.load_balance_strategy.as_deref(),
        env.get("LOAD_BALANCE_STRATEGY"),
        overrides.strategy.as_deref().map(|v| ("--strategy", v)),
        Strategy::RoundRobin,
        Strategy::from_str,
    )?;
    let port_env = env_value(env.get("SERVER_PORT"), |v| {
        v.trim().parse::<u16>().map_err(|_| {
            format!("\"{v}\" is not a port number; use a whole number from 0 to 65535")
        })
    })?;
    let server_port = layers.pick(
        "server_port",
        8080,
        raw.server_port,
        port_env,
        overrides.port.map(|p| ("--port", p)),
    );
    let server_host = layers.parsed(
        "server_host",
        raw.server_host.as_deref(),
        env.get("SERVER_HOST"),
        overrides.host.as_deref().map(|v| ("--host", v)),
        "127.0.0.1".to_string(),
        |v| non_empty(v, "a host name or IP address"),
    )?;
    let upstream_url = layers.parsed(
        "upstream_url",
        raw.upstream_url.as_deref(),
        env.get("UPSTREAM_URL"),
        overrides
            .upstream_url
            .as_deref()
            .map(|v| ("--upstream-url", v)),
        DEFAULT_UPSTREAM_URL.to_string(),
        parse_upstream_url,
    )?;
    let interval_env = env_value(env.get("HEALTH_CHECK_INTERVAL"), file::parse_duration)?;
    let health_check_interval = layers.pick(
        "health_check_interval",
        Duration::from_secs(30),
        raw.health_check_interval,
        interval_env,
        None,
    );
    let health_check_mode = layers.parsed(
        "health_check_mode",
        raw.health_check_mode.as_deref(),
        env.get("HEALTH_CHECK_MODE"),
        None,
        HealthCheckMode::Quota,
        HealthCheckMode::from_str,
    )?;
    let bearer_token = layers.secret(
        "bearer_token",
        raw.bearer_token,
        env.get("BEARER_TOKEN"),
        overrides
            .bearer_token
            .as_deref()
            .map(|v| ("--bearer-token", v)),
    );
    let admin_token = layers.secret("admin_token", raw.admin_token, env.get("ADMIN_TOKEN"), None);
    for (key, value) in [
        ("bearer_token", &bearer_token),
        ("admin_token", &admin_token),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| super::placeholder::is_placeholder(v.expose_secret()))
        {
            warnings.push(format!(
                "{key}: {}; clients would have to send it as it stands, so set a key of your own \
(`jbproxy generate-config` makes a strong one)",
                super::placeholder::describe(&origin_text(&layers.source(key), env))
            ));
        }
    }
    let priority_mode = layers.parsed(
        "priority_mode",
        raw.priority_mode.as_deref(),
        None,
        None,
        PriorityMode::Order,
        PriorityMode::from_str,
    )?;
    let upstream_api = layers.parsed(
        "upstream_api",
        raw.upstream_api.as_deref(),
        None,
        None,
        UpstreamApi::V8,
        UpstreamApi::from_str,
    )?;
    let grazie_agent = match raw.grazie_agent {
        None => DEFAULT_GRAZIE_AGENT.to_string(),
        Some(value) => layers.file_only("grazie_agent", grazie_agent_header(value))?,
    };
    let models = match raw.models {
        None => BTreeMap::new(),
        Some(models) => layers.file_only("models", validate_models(models))?,
    };
    let profile_parameters = match raw.profile_parameters {
        None => BTreeMap::new(),
        Some(value) => layers.file_only(
            "profile_parameters",
            crate::profiles::parse_overrides(value),
        )?,
    };

    let config = Config {
        tokens,
        bearer_token,
        admin_token,
        strategy,
        priority_mode,
        health_check_interval,
        health_check_mode,
        server_host,
        server_port,
        upstream_url,
        upstream_api,
        grazie_agent,
        models,
        profile_parameters,
        connect_timeout: layers.pick(
            "connect_timeout",
            Duration::from_secs(10),
            raw.connect_timeout,
            None,
            None,
        ),
        request_timeout: layers.pick(
            "request_timeout",
            Duration::from_secs(30),
            raw.request_timeout,
            None,
            None,
        ),
        first_byte_timeout: layers.pick(
            "first_byte_timeout",
            Duration::from_secs(60),
            raw.first_byte_timeout,
            None,
            None,
        ),
        idle_timeout: layers.pick(
            "idle_timeout",
            Duration::from_secs(120),
            raw.idle_timeout,
            None,
            None,
        ),
        max_attempts: raw
            .max_attempts
            .inspect(|_| layers.mark_file("max_attempts")),
        watch_config: layers.pick("watch_config", true, raw.watch_config, None, None),
        max_body_size: layers.pick(
            "max_body_size",
            32 * 1024 * 1024,
            raw.max_body_size,
            None,
            None,
        ),
        shutdown_grace: layers.pick(
            "shutdown_grace",
            Duration::from_secs(30),
            raw.shutdown_grace,
            None,
            None,
        ),
        max_connections: layers.pick("max_connections", 4096, raw.max_connections, None, None),
        client_header_timeout: layers.pick(
            "client_header_timeout",
            Duration::from_secs(10),
            raw.client_header_timeout,
            None,
            None,
        ),
        client_body_timeout: layers.pick(
            "client_body_timeout",
            Duration::from_secs(30),
            raw.client_body_timeout,
            None,
            None,
        ),
        client_idle_timeout: layers.pick(
            "client_idle_timeout",
            Duration::from_secs(60),
            raw.client_idle_timeout,
            None,
            None,
        ),
        max_header_size: layers.pick(
            "max_header_size",
            64 * 1024,
            raw.max_header_size,
            None,
            None,
        ),
        file: file_path,
        sources: layers.sources,
        warnings,
        env_file_lines: env.env_file_lines.clone(),
    };
    validate(&config)?;
    Ok(config)
}

/// Records which layer each key's value came from while picking the winning value.
struct Layers {
    sources: BTreeMap<&'static str, Source>,
    file: Option<Source>,
}

impl Layers {
    /// The highest layer that has a value wins: flag > env > file > default.
    fn pick<T>(
        &mut self,
        key: &'static str,
        default: T,
        from_file: Option<T>,
        from_env: Option<(&'static str, T)>,
        from_flag: Option<(&'static str, T)>,
    ) -> T {
        if let Some((flag, value)) = from_flag {
            self.sources.insert(key, Source::Flag(flag));
            value
        } else if let Some((name, value)) = from_env {
            self.sources.insert(key, Source::Env(name));
            value
        } else if let Some(value) = from_file {
            self.mark_file(key);
            value
        } else {
            self.sources.entry(key).or_insert(Source::Default);
            default
        }
    }

    fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    fn mark_file(&mut self, key: &'static str) {
        if let Some(file) = &self.file {
            self.sources.insert(key, file.clone());
        }
    }

    /// Like `pick`, for values written as text in any layer; a value that does not parse names its layer.
    fn parsed<T>(
        &mut self,
        key: &'static str,
        from_file: Option<&str>,
        from_env: Option<(&'static str, &str)>,
        from_flag: Option<(&'static str, &str)>,
        default: T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let file_origin = self.file.clone();
        let file_value = from_file
            .map(|v| {
                parse(v).map_err(|m| ConfigError::invalid(format_key(file_origin.as_ref(), key), m))
            })
            .transpose()?;
        let env_value = env_value(from_env, &parse)?;
        let flag_value = from_flag
            .map(|(n, v)| {
                parse(v)
                    .map(|p| (n, p))
                    .map_err(|m| ConfigError::invalid(Source::Flag(n), m))
            })
            .transpose()?;
        Ok(self.pick(key, default, file_value, env_value, flag_value))
    }

    fn secret(
        &mut self,
        key: &'static str,
        from_file: Option<String>,
        from_env: Option<(&'static str, &str)>,
        from_flag: Option<(&'static str, &str)>,
    ) -> Option<SecretString> {
        let to_secret = |v: &str| Some(SecretString::from(v.trim().to_string()));
        self.pick(
            key,
            None,
            from_file
                .filter(|v| !v.trim().is_empty())
                .map(|v| to_secret(&v)),
            from_env.map(|(n, v)| (n, to_secret(v))),
            from_flag
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(n, v)| (n, to_secret(v))),
        )
    }

    fn file_only<T>(
        &mut self,
        key: &'static str,
        value: Result<T, String>,
    ) -> Result<T, ConfigError> {
        self.mark_file(key);
        value.map_err(|m| ConfigError::invalid(format_key(self.file.as_ref(), key), m))
    }

    fn tokens(
        &mut self,
        raw: &FileConfig,
        overrides: &Overrides,
        env: &Env,
    ) -> Result<Vec<TokenConfig>, ConfigError> {
        let listed = |list: &str| -> Vec<FileToken> {
            list.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| FileToken {
                    token: Some(t.to_string()),
                    ..FileToken::default()
                })
                .collect()
        };
        let env_tokens = env
            .get("JWT_TOKENS")
            .or_else(|| env.get("JWT_TOKEN"))
            .map(|(name, list)| (name, listed(list)));
        let flag_tokens = overrides
            .jwt_tokens
            .as_deref()
            .map(|list| ("--jwt-tokens", listed(list)));
        let chosen = self.pick(
            "jetbrains_tokens",
            Vec::new(),
            raw.jetbrains_tokens.clone(),
            env_tokens,
            flag_tokens,
        );
        let origin = self
            .sources
            .get("jetbrains_tokens")
            .cloned()
            .unwrap_or(Source::Default);
        resolve_tokens(chosen, &origin)
    }
}

/// Parses an environment variable's value, naming the variable if it does not parse.
fn env_value<T>(
    var: Option<(&'static str, &str)>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<(&'static str, T)>, ConfigError> {
    var.map(|(name, v)| {
        parse(v)
            .map(|p| (name, p))
            .map_err(|m| ConfigError::invalid(Source::Env(name), m))
    })
    .transpose()
}

fn format_key(file: Option<&Source>, key: &str) -> String {
    match file {
        Some(source) => format!("{source}: {key}"),
        None => key.to_string(),
    }
}

fn resolve_tokens(raw: Vec<FileToken>, origin: &Source) -> Result<Vec<TokenConfig>, ConfigError> {
    let mut seen_names = BTreeMap::new();
    let mut tokens = Vec::with_capacity(raw.len());
    for (i, entry) in raw.into_iter().enumerate() {
        let at = format!("{origin}: jetbrains_tokens[{i}]");
        let token = entry
            .token
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ConfigError::invalid(
                    &at,
                    "`token` is missing or empty; put the JetBrains AI JWT there",
                )
            })?;
        let name = entry
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("token-{}", i + 1));
        if let Some(first) = seen_names.insert(name.clone(), i) {
            return Err(ConfigError::invalid(
                &at,
                format!(
                    "name \"{name}\" is already used by jetbrains_tokens[{first}]; every token needs its own name"
                ),
            ));
        }
        let weight = entry.weight.unwrap_or(1);
        if weight == 0 {
            return Err(ConfigError::invalid(
                &at,
                "`weight` must be at least 1 (use `enabled: false` to take a token out)",
            ));
        }
        if entry.max_concurrency == Some(0) {
            return Err(ConfigError::invalid(
                &at,
                "`max_concurrency` must be at least 1 (leave it out for no limit)",
            ));
        }
        let authorization = entry.authorization.map(|a| {
            let a = a.trim();
            a.strip_prefix("Bearer ").unwrap_or(a).trim().to_string()
        });
        if entry.license_id.is_some() != authorization.is_some() {
            return Err(ConfigError::invalid(
                &at,
                "`license_id` and `authorization` go together: both are needed to refresh the JWT; set both or neither",
            ));
        }
        tokens.push(TokenConfig {
            token: SecretString::from(token),
            name,
            description: entry.description,
            priority: entry.priority.unwrap_or(0),
            weight,
            max_concurrency: entry.max_concurrency,
            metadata: entry.metadata.unwrap_or_default(),
            enabled: entry.enabled.unwrap_or(true),
            license_id: entry.license_id,
            authorization: authorization.map(SecretString::from),
        });
    }
    Ok(tokens)
}

/// Where a value came from, as a place the user can go and fix: `.env (line 5)`, `config/config.json`,
/// `the environment variable JWT_TOKENS`, `--jwt-tokens`.
pub(crate) fn origin_text(source: &Source, env: &Env) -> String {
    match source {
        Source::Env(name) => match env.env_file_lines.get(name) {
            Some(line) => format!("{} (line {line})", super::dotenv::FILE_NAME),
            None => format!("the environment variable {name}"),
        },
        Source::File(path) => path.display().to_string(),
        Source::Flag(flag) => flag.to_string(),
        Source::Default => "the defaults".to_string(),
    }
}

/// Environment variables named almost like one jbproxy reads, which it would otherwise ignore without a word.
fn misspelt_variables(
    names: &[String],
    env_file: &BTreeMap<String, (usize, String)>,
) -> Vec<String> {
    names
        .iter()
        .filter(|name| !Env::NAMES.contains(&name.as_str()))
        .filter_map(|name| {
            let meant = super::explain::did_you_mean(name, &Env::NAMES)?;
            let place = match env_file.get(name) {
                Some((line, _)) => {
                    format!("{} (line {line}) sets {name}", super::dotenv::FILE_NAME)
                }
                None => format!("the environment variable {name} is set"),
            };
            Some(format!(
                "{place}, which jbproxy does not read; did you mean {meant}?"
            ))
        })
        .collect()
}

/// A load-time warning for a token that will not work as it stands; it does not stop loading. `origin` says where
/// the token came from, for a placeholder left in an example file.
pub(crate) fn token_warning(token: &TokenConfig, origin: &str, now: SystemTime) -> Option<String> {
    let text = token.token.expose_secret();
    if super::placeholder::is_placeholder(text) {
        return Some(format!(
            "token {}: {}; put your JetBrains AI JWT there",
            token.label(),
            super::placeholder::describe(origin)
        ));
    }
    match crate::jwt::DecodedJwt::decode(text) {
        Err(err) => Some(format!("token {}: {err}", token.label())),
        Ok(jwt) => match jwt.expires_at() {
            Some(exp) if exp <= now && !token.can_refresh() => Some(format!(
                "token {} expired {} ({}); replace it or add license_id and authorization so jbproxy can refresh it",
                token.label(),
                crate::jwt::relative(exp, now),
                crate::jwt::rfc3339(exp)
            )),
            _ => None,
        },
    }
}

fn non_empty(v: &str, what: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty() {
        Err(format!("is empty; give {what}"))
    } else {
        Ok(v.to_string())
    }
}

fn parse_upstream_url(v: &str) -> Result<String, String> {
    // Errors quote the value, so a password in it is redacted first.
    let shown = crate::secret::redact_url(v);
    let url = reqwest::Url::parse(v.trim())
        .map_err(|e| format!("\"{shown}\" is not a URL ({e}); use e.g. {DEFAULT_UPSTREAM_URL}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "\"{shown}\" must start with https:// (or http:// for a local test upstream)"
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

fn grazie_agent_header(value: Value) -> Result<String, String> {
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

fn validate_models(models: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
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

fn validate(config: &Config) -> Result<(), ConfigError> {
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
    if config.health_check_mode != super::HealthCheckMode::Off
        && config.health_check_interval < Duration::from_secs(1)
    {
        return Err(ConfigError::invalid(
            origin("health_check_interval"),
            "must be at least 1s; set health_check_mode to \"off\" to disable checks",
        ));
    }
    let timeouts = [
        ("connect_timeout", config.connect_timeout),
        ("request_timeout", config.request_timeout),
        ("first_byte_timeout", config.first_byte_timeout),
        ("idle_timeout", config.idle_timeout),
        ("client_header_timeout", config.client_header_timeout),
        ("client_body_timeout", config.client_body_timeout),
        ("client_idle_timeout", config.client_idle_timeout),
    ];
    if let Some((key, _)) = timeouts.iter().find(|(_, value)| value.is_zero()) {
        return Err(ConfigError::invalid(origin(key), "must be longer than 0s"));
    }
    if config.max_connections == 0 {
        return Err(ConfigError::invalid(
            origin("max_connections"),
            "must be at least 1; the default is 4096",
        ));
    }
    // hyper's floor for a connection's read buffer; it panics below it.
    if !(8 * 1024..=u64::from(u32::MAX)).contains(&config.max_header_size) {
        return Err(ConfigError::invalid(
            origin("max_header_size"),
            "must be between 8KiB and 4GiB; the default is 64KiB",
        ));
    }
    Ok(())
}
