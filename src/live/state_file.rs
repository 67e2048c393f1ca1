//! The state file: where rotated refresh tokens are kept so that a restart keeps working. The operator's config is
//! never rewritten; this file, beside it (`state_file`), holds for each configured `refresh_token` the one that
//! replaced it last. It is keyed by the SHA-256 of the configured token, so putting a new refresh token in the
//! config starts a fresh chain, and it is written whole, atomically (a temp file renamed into place) with mode 0600.
//!
//! Shape (`version` 1):
//! `{"version": 1, "refresh_tokens": {"<sha256 hex>": {"name", "refresh_token", "updated"}}}`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// A state file is a few hundred bytes per token.
const MAX_BYTES: u64 = 4 * 1024 * 1024;
const VERSION: u64 = 1;

/// One token's current refresh token, as kept.
#[derive(Clone)]
struct Entry {
    name: String,
    refresh_token: SecretString,
    updated: String,
}

/// The state file of one process: what it holds, and where it goes.
pub struct StateFile {
    /// `None`: no config file, so nowhere to keep anything (rotations live in memory only).
    path: Option<PathBuf>,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// One write at a time: the temp file's name is per process.
    writing: tokio::sync::Mutex<()>,
}

/// The key of a configured refresh token: its SHA-256 in hex (the token itself is never a key).
pub fn key(configured: &str) -> String {
    crate::secret::digest_hex(configured)
}

impl StateFile {
    /// Reads the file at `path` if it exists. A file that is not a state file stops the start: writing over it
    /// would lose the refresh tokens it may hold.
    pub fn open(path: Option<PathBuf>) -> anyhow::Result<Self> {
        let entries = match &path {
            Some(path) => read(path)?,
            None => BTreeMap::new(),
        };
        Ok(Self {
            path,
            entries: Mutex::new(entries),
            writing: tokio::sync::Mutex::new(()),
        })
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The refresh token kept for the configured one with this key.
    pub fn current(&self, key: &str) -> Option<SecretString> {
        self.lock().get(key).map(|e| e.refresh_token.clone())
    }

    /// Reads the file again and returns what it holds for `key` now: another jbproxy process (a second server,
    /// `check-tokens --online`) may have rotated the token since.
    pub async fn reread(&self, key: &str) -> Option<SecretString> {
        let path = self.path.clone()?;
        let found = tokio::task::spawn_blocking(move || read(&path))
            .await
            .ok()?
            .ok()?;
        let entry = found.get(key)?.clone();
        self.lock().insert(key.to_owned(), entry.clone());
        Some(entry.refresh_token)
    }

    /// Keeps `refresh_token` as the current one for `key` and writes the file. Without a path it is kept in memory
    /// only; a write that fails says why (the caller logs it: the token then lasts only until a restart).
    pub async fn save(
        &self,
        key: &str,
        name: &str,
        refresh_token: &SecretString,
    ) -> std::io::Result<()> {
        let _one_at_a_time = self.writing.lock().await;
        let entry = Entry {
            name: name.to_owned(),
            refresh_token: refresh_token.clone(),
            updated: crate::jwt::rfc3339(std::time::SystemTime::now()),
        };
        let Some(path) = self.path.clone() else {
            self.lock().insert(key.to_owned(), entry);
            return Ok(());
        };
        // Another process (a second server, `check-tokens --online`) may have rotated other tokens since this one
        // read the file: put this key over what the file holds now, never over this process's older copy.
        let memory = self.lock().clone();
        let key = key.to_owned();
        let (merged, written) = tokio::task::spawn_blocking(move || {
            let mut entries = read(&path).unwrap_or(memory);
            entries.insert(key, entry);
            let written = crate::output::write_secret_file(&path, &render(&entries));
            (entries, written)
        })
        .await
        .map_err(std::io::Error::other)?;
        // Kept in memory even when the write failed: the old refresh token is already spent.
        *self.lock() = merged;
        written
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn render(entries: &BTreeMap<String, Entry>) -> String {
    let tokens: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(key, e)| {
            (
                key.clone(),
                json!({
                    "name": e.name,
                    "refresh_token": e.refresh_token.expose_secret(),
                    "updated": e.updated,
                }),
            )
        })
        .collect();
    let doc = json!({
        "_comment": "Written by jbproxy: the current refresh token of each jetbrains_tokens entry that has one, keyed \
    by the SHA-256 of the refresh_token in the config. Secret: keep it private. Deleting it makes jbproxy start again \
    from the config's refresh tokens.",
        "version": VERSION,
        "refresh_tokens": tokens,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// Reads a state file; a missing one is empty.
fn read(path: &Path) -> anyhow::Result<BTreeMap<String, Entry>> {
    let bytes = match crate::config::regular_file::read(path, MAX_BYTES) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(err) => anyhow::bail!("cannot read the state file {}: {err}", path.display()),
    };
    warn_if_readable_by_others(path);
    let broken = |why: &str| {
        anyhow::anyhow!(
            "{} is not a jbproxy state file ({why}); it keeps rotated refresh tokens, so it is not overwritten: \
             move it away (or point state_file elsewhere) and restart",
            path.display()
        )
    };
    let doc: Value = serde_json::from_slice(&bytes).map_err(|_| broken("not JSON"))?;
    if doc.get("version").and_then(Value::as_u64) != Some(VERSION) {
        return Err(broken("no \"version\": 1"));
    }
    let tokens = doc
        .get("refresh_tokens")
        .and_then(Value::as_object)
        .ok_or_else(|| broken("no \"refresh_tokens\" object"))?;
    let mut entries = BTreeMap::new();
    for (key, entry) in tokens {
        let text = |field: &str| entry.get(field).and_then(Value::as_str).unwrap_or_default();
        if text("refresh_token").is_empty() {
            return Err(broken("an entry without a refresh_token"));
        }
        entries.insert(
            key.clone(),
            Entry {
                name: text("name").to_owned(),
                refresh_token: SecretString::from(text("refresh_token").to_owned()),
                updated: text("updated").to_owned(),
            },
        );
    }
    Ok(entries)
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                "the state file {} holds refresh tokens but others may read it (mode {:o}); run chmod 600 on it",
                path.display(),
                meta.permissions().mode() & 0o777
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_saved_token_is_read_back_by_the_next_process_and_the_file_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.state.json");
        let first = StateFile::open(Some(path.clone())).expect("opens with no file");
        let k = key("rt-configured");
        assert!(first.current(&k).is_none());
        first
            .save(&k, "a", &SecretString::from("rt-rotated-1"))
            .await
            .expect("saves");
        let second = StateFile::open(Some(path.clone())).expect("reads");
        assert_eq!(
            second.current(&k).as_ref().map(|s| s.expose_secret()),
            Some("rt-rotated-1")
        );
        let text = std::fs::read_to_string(&path).expect("file");
        assert!(!text.contains("rt-configured"), "keyed by digest only");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // A second process rotates; the first sees it on a re-read.
        second
            .save(&k, "a", &SecretString::from("rt-rotated-2"))
            .await
            .expect("saves");
        assert_eq!(
            first.reread(&k).await.as_ref().map(|s| s.expose_secret()),
            Some("rt-rotated-2")
        );
    }

    #[tokio::test]
    async fn a_save_keeps_what_another_process_rotated_meanwhile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.state.json");
        let server = StateFile::open(Some(path.clone())).expect("opens");
        let checker = StateFile::open(Some(path.clone())).expect("opens");
        let (k1, k2) = (key("rt-one"), key("rt-two"));
        checker
            .save(&k1, "one", &SecretString::from("rt-one-rotated"))
            .await
            .expect("saves");
        server
            .save(&k2, "two", &SecretString::from("rt-two-rotated"))
            .await
            .expect("saves");
        let after = StateFile::open(Some(path)).expect("reads");
        assert_eq!(
            after.current(&k1).as_ref().map(|s| s.expose_secret()),
            Some("rt-one-rotated"),
            "the other process's rotation survives this one's write"
        );
        assert_eq!(
            after.current(&k2).as_ref().map(|s| s.expose_secret()),
            Some("rt-two-rotated")
        );
    }

    #[test]
    fn a_file_that_is_no_state_file_stops_the_start_rather_than_be_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        for text in ["{oops", r#"{"version": 2}"#, r#"{"version": 1}"#] {
            let path = dir.path().join("s.json");
            std::fs::write(&path, text).expect("write");
            let err = StateFile::open(Some(path))
                .err()
                .expect("refused")
                .to_string();
            assert!(err.contains("is not a jbproxy state file"), "{err}");
        }
    }
}
