//! Where the config file is found: `--config`, then `CONFIG_FILE`, then the seed's search path in its order.

use std::path::{Path, PathBuf};

use super::{ConfigError, Source};

/// The seed's search path, relative to the working directory, before the per-user file.
pub const SEARCH_PATH: [&str; 4] = [
    "config.json",
    "config/config.json",
    "configs/config.json",
    ".config/jetbrains-ai-proxy.json",
];

/// The per-user config file, under `$HOME`.
pub fn user_config(home: &Path) -> PathBuf {
    home.join(".config/jetbrains-ai-proxy/config.json")
}

/// Every place searched, in order, for messages and docs.
pub fn candidates(home: Option<&Path>) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = SEARCH_PATH.iter().map(PathBuf::from).collect();
    all.extend(home.map(user_config));
    all
}

/// Finds the file to read. A file named explicitly must exist; the search path may come up empty.
pub fn find(
    flag: Option<&Path>,
    env_file: Option<&str>,
    home: Option<&Path>,
) -> Result<Option<(PathBuf, Source)>, ConfigError> {
    let explicit = flag
        .map(|p| (p.to_path_buf(), Source::Flag("--config")))
        .or_else(|| {
            env_file
                .filter(|s| !s.is_empty())
                .map(|p| (PathBuf::from(p), Source::Env("CONFIG_FILE")))
        });
    if let Some((path, source)) = explicit {
        if let Some(kind) = super::regular_file::irregular(&path) {
            let hint = if kind == "a directory" {
                format!(
                    "give the config file's path, e.g. {}",
                    path.join("config.json").display()
                )
            } else {
                "give the path of a JSON config file".to_string()
            };
            return Err(ConfigError::invalid(
                &source,
                format!("{} is {kind}, not a config file; {hint}", path.display()),
            ));
        }
        if !path.is_file() {
            return Err(ConfigError::invalid(
                &source,
                format!(
                    "config file {} does not exist; create it with `jbproxy generate-config --output {}` or fix the path",
                    path.display(),
                    path.display()
                ),
            ));
        }
        return Ok(Some((path, source)));
    }
    Ok(candidates(home).into_iter().find(|p| p.is_file()).map(|p| {
        let source = Source::File(p.clone());
        (p, source)
    }))
}
