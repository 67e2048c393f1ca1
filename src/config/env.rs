//! The environment layer: a snapshot of the variables jbproxy reads (so loading is a pure function of its inputs),
//! which `.env` line each came from, and variables named almost like ours.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::Source;

/// A snapshot of the environment variables jbproxy reads.
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
    pub const NAMES: [&'static str; 14] = [
        "JWT_TOKENS",
        "JWT_TOKEN",
        "BEARER_TOKEN",
        "ADMIN_TOKEN",
        "LOAD_BALANCE_STRATEGY",
        "SERVER_HOST",
        "SERVER_PORT",
        "WORKER_THREADS",
        "CONFIG_FILE",
        "UPSTREAM_URL",
        "UPSTREAM_HTTP",
        "HEALTH_CHECK_INTERVAL",
        "HEALTH_CHECK_MODE",
        "STATE_URL",
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

    /// A variable's name and value; a blank value counts as unset.
    pub(super) fn get(&self, name: &'static str) -> Option<(&'static str, &str)> {
        self.vars
            .get(name)
            .map(|v| (name, v.as_str()))
            .filter(|(_, v)| !v.trim().is_empty())
    }

    pub fn home(&self) -> Option<&Path> {
        self.home.as_deref()
    }

    pub(super) fn lines(&self) -> &BTreeMap<&'static str, usize> {
        &self.env_file_lines
    }

    pub(super) fn warnings(&self) -> &[String] {
        &self.warnings
    }
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
