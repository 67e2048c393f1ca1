//! Layering: defaults < config file < environment < command-line flags, with the source of every value kept, then
//! validation into a `Config`. What each key's layers are is its row in `settings.rs`; this is how a row is applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};

use super::env::origin_text;
use super::file::{self, FileConfig};
use super::{Config, ConfigError, Env, Source, discovery, settings, tokens, validate};

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
    mut raw: FileConfig,
    file_path: Option<PathBuf>,
    overrides: &Overrides,
    env: &Env,
) -> Result<Config, ConfigError> {
    let mut layers = Layers {
        sources: BTreeMap::new(),
        file: file_path.map(Source::File),
    };
    let tokens = tokens::pick(&mut layers, raw.jetbrains_tokens.take(), overrides, env)?;
    let mut config = settings::pick_all(raw, &mut layers, env, overrides, tokens)?;
    config.start_up.state_file =
        state_file(config.start_up.state_file.take(), config.file.as_deref());
    config.warnings = warnings(&config, env);
    validate::validate(&config)?;
    Ok(config)
}

/// The state file's path: the configured one (a relative path taken from the config file's directory), else
/// `<config stem>.state.json` beside the config file; none without a config file, since only a file can hold the
/// refresh tokens it is for.
fn state_file(configured: Option<PathBuf>, config_file: Option<&Path>) -> Option<PathBuf> {
    let dir = config_file.map(|f| f.parent().unwrap_or(Path::new("")));
    match (configured, dir) {
        (Some(path), Some(dir)) if path.is_relative() => Some(dir.join(path)),
        (Some(path), _) => Some(path),
        (None, Some(dir)) => {
            let stem = config_file
                .and_then(Path::file_stem)
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "config".into());
            Some(dir.join(format!("{stem}.state.json")))
        }
        (None, None) => None,
    }
}

/// What loading found that does not stop jbproxy: misspelt variables, tokens that will not work, placeholder keys.
fn warnings(config: &Config, env: &Env) -> Vec<String> {
    let mut warnings = env.warnings().to_vec();
    let token_origin = origin_text(&config.source_of("jetbrains_tokens"), env);
    for token in &config.tokens {
        warnings.extend(tokens::warning(token, &token_origin, SystemTime::now()));
    }
    for (key, value) in [
        ("bearer_token", &config.bearer_token),
        ("admin_token", &config.admin_token),
    ] {
        if value
            .as_ref()
            .is_some_and(|v| super::placeholder::is_placeholder(v.expose_secret()))
        {
            warnings.push(format!(
                "{key}: {}; clients would have to send it as it stands, so set a key of your own \
(`jbproxy generate-config` makes a strong one)",
                super::placeholder::describe(&origin_text(&config.source_of(key), env))
            ));
        }
    }
    warnings
}

/// How one key takes its value from the layers: its default, how the file's value becomes the setting's, and the
/// environment variable and flag that may set it, each with how its text is read.
pub(super) struct Rule<F, T> {
    default: T,
    /// `Ok(None)`: as if the key were absent (a blank secret).
    from_file: Box<dyn Fn(F) -> Result<Option<T>, String>>,
    env: Option<(&'static str, TextReader<T>)>,
    flag: Option<(&'static str, FlagReader<T>)>,
}

/// Reads a value written as text (an environment variable's).
type TextReader<T> = fn(&str) -> Result<T, String>;

/// Reads a flag's value from the command line; `None` when the flag was not given (or was blank, for a secret).
type FlagReader<T> = Box<dyn Fn(&Overrides) -> Option<Result<T, String>>>;

impl<T: 'static> Rule<T, T> {
    /// The file's value as serde read it (already checked there, with its line and column).
    pub fn plain(default: T) -> Self {
        Self::file(default, Ok)
    }
}

impl<F: 'static, T: 'static> Rule<F, T> {
    /// The file's value through `check`; an error names the file and the key.
    pub fn file(default: T, check: impl Fn(F) -> Result<T, String> + 'static) -> Self {
        Rule {
            default,
            from_file: Box::new(move |value| check(value).map(Some)),
            env: None,
            flag: None,
        }
    }

    pub fn env(mut self, name: &'static str, parse: TextReader<T>) -> Self {
        self.env = Some((name, parse));
        self
    }

    pub fn flag(
        mut self,
        name: &'static str,
        read: fn(&Overrides) -> Option<Result<T, String>>,
    ) -> Self {
        self.flag = Some((name, Box::new(read)));
        self
    }
}

impl<T: 'static> Rule<String, T> {
    /// A value written as text in the file, read by `parse` (enums, URLs, host names); an error names the file and
    /// the key, where serde's would only say "expected …".
    pub fn text(default: T, parse: fn(&str) -> Result<T, String>) -> Self {
        Rule::file(default, move |value: String| parse(&value))
    }
}

impl Rule<String, Option<SecretString>> {
    /// A key (client or admin): none by default; a blank value in any layer counts as not given.
    pub fn secret() -> Self {
        Rule {
            default: None,
            from_file: Box::new(|value: String| {
                Ok((!value.trim().is_empty()).then(|| Some(secret(&value))))
            }),
            env: None,
            flag: None,
        }
    }

    pub fn env_secret(self, name: &'static str) -> Self {
        self.env(name, |value| Ok(Some(secret(value))))
    }

    pub fn flag_secret(mut self, name: &'static str, read: fn(&Overrides) -> Option<&str>) -> Self {
        self.flag = Some((
            name,
            Box::new(move |o| {
                read(o)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| Ok(Some(secret(v))))
            }),
        ));
        self
    }
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value.trim().to_string())
}

/// Records which layer each key's value came from while picking the winning value.
pub(super) struct Layers {
    pub(super) sources: BTreeMap<&'static str, Source>,
    pub(super) file: Option<Source>,
}

impl Layers {
    /// Applies `rule` to `key`: every layer that has a value is read (so a bad value is reported even where a
    /// higher layer wins), then the highest wins: flag > env > file > default.
    pub(super) fn apply<F, T>(
        &mut self,
        key: &'static str,
        from_file: Option<F>,
        rule: Rule<F, T>,
        env: &Env,
        overrides: &Overrides,
    ) -> Result<T, ConfigError> {
        let file_value = match from_file {
            Some(value) => (rule.from_file)(value)
                .map_err(|m| ConfigError::invalid(format_key(self.file.as_ref(), key), m))?,
            None => None,
        };
        let env_value = match rule.env {
            Some((name, parse)) => env_value(env.get(name), parse)?,
            None => None,
        };
        let flag_value = match &rule.flag {
            Some((name, read)) => read(overrides)
                .map(|v| {
                    v.map(|v| (*name, v))
                        .map_err(|m| ConfigError::invalid(Source::Flag(name), m))
                })
                .transpose()?,
            None => None,
        };
        Ok(self.pick(key, rule.default, file_value, env_value, flag_value))
    }

    /// The highest layer that has a value wins: flag > env > file > default.
    pub(super) fn pick<T>(
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
            if let Some(file) = &self.file {
                self.sources.insert(key, file.clone());
            }
            value
        } else {
            self.sources.entry(key).or_insert(Source::Default);
            default
        }
    }

    pub(super) fn file_path(&self) -> Option<PathBuf> {
        match &self.file {
            Some(Source::File(path)) => Some(path.clone()),
            _ => None,
        }
    }

    pub(super) fn take_sources(&mut self) -> BTreeMap<&'static str, Source> {
        std::mem::take(&mut self.sources)
    }
}

/// Parses an environment variable's value, naming the variable if it does not parse.
pub(super) fn env_value<T>(
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

pub(super) fn format_key(file: Option<&Source>, key: &str) -> String {
    match file {
        Some(source) => format!("{source}: {key}"),
        None => key.to_string(),
    }
}
