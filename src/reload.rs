//! Hot reload: the config file changing (its directory is watched, events debounced), SIGHUP, and `POST /reload`
//! all lead here. The new config is loaded and validated in full first, including the checks start-up makes
//! (against the address actually bound); only a good one is swapped in, in one store. A broken one leaves the running
//! config untouched and is reported. Settings the server reads only at start-up keep their running values and are
//! reported as needing a restart.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use notify::EventKind;
use notify::event::{AccessKind, AccessMode};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::config::{self, Config, Env, Overrides};
use crate::live::Live;
use crate::server::Handles;

/// Reloads the config from the same sources the server started with.
pub struct Reloader {
    overrides: Overrides,
    handles: Handles,
    /// The address the server listens on: a reload is checked against it, not against what the new file says.
    bound: SocketAddr,
    /// One reload at a time, so two triggers cannot interleave their swaps.
    busy: tokio::sync::Mutex<()>,
    succeeded: AtomicU64,
    failed: AtomicU64,
}

/// What a successful reload changed, for logs and `/reload`.
#[derive(Debug, serde::Serialize)]
pub struct ReloadSummary {
    pub tokens: usize,
    pub kept_state: usize,
    pub strategy: &'static str,
    pub file: Option<String>,
    /// Changed settings that only take effect at start-up; their running values were kept.
    pub needs_restart: Vec<&'static str>,
}

impl Reloader {
    pub fn new(overrides: Overrides, handles: Handles, bound: SocketAddr) -> Arc<Self> {
        Arc::new(Self {
            overrides,
            handles,
            bound,
            busy: tokio::sync::Mutex::new(()),
            succeeded: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    /// Reloads so far: (succeeded, failed).
    pub fn counts(&self) -> (u64, u64) {
        (
            self.succeeded.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    pub async fn reload(&self, trigger: &str) -> Result<ReloadSummary, String> {
        let _one_at_a_time = self.busy.lock().await;
        let result = self.swap_in(trigger).await;
        let (counter, outcome) = match &result {
            Ok(_) => (&self.succeeded, "ok"),
            Err(err) => {
                tracing::error!(
                    "config reload ({trigger}) failed, keeping the running config: {err}"
                );
                (&self.failed, "failed")
            }
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("jbproxy_config_reloads_total", "result" => outcome).increment(1);
        result
    }

    async fn swap_in(&self, trigger: &str) -> Result<ReloadSummary, String> {
        let overrides = self.overrides.clone();
        let bound = self.bound;
        // Blocking: reads the file, and the serving check may resolve a host name.
        let mut config = tokio::task::spawn_blocking(move || load_checked(&overrides, bound))
            .await
            .map_err(|e| format!("reload task failed: {e}"))??;
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        let old = self.handles.live.load_full();
        let needs_restart = config::serving::keep_start_up_settings(&old.config, &mut config);
        let live = Live::build(config, Some(&old)).map_err(|e| format!("{e:#}"))?;
        let kept_state = live
            .pool
            .slots()
            .iter()
            .filter(|s| {
                old.pool
                    .slots()
                    .iter()
                    .any(|o| o.fingerprint == s.fingerprint)
            })
            .count();
        let summary = ReloadSummary {
            tokens: live.pool.len(),
            kept_state,
            strategy: live.pool.strategy().as_str(),
            file: live.config.file.as_ref().map(|p| p.display().to_string()),
            needs_restart,
        };
        self.handles.live.store(Arc::new(live));
        tracing::info!(
            "config reloaded ({trigger}): {} ({} kept their state), strategy: {}",
            crate::output::count(summary.tokens, "token"),
            summary.kept_state,
            summary.strategy
        );
        if !summary.needs_restart.is_empty() {
            tracing::warn!(
                "config reloaded ({trigger}), but {} only take effect at start-up and need a restart; until then the \
running values stay",
                summary.needs_restart.join(", ")
            );
        }
        Ok(summary)
    }

    /// Reloads on SIGHUP until shutdown.
    pub async fn on_sighup(self: Arc<Self>) {
        #[cfg(unix)]
        {
            let Ok(mut hangup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            else {
                tracing::warn!("cannot listen for SIGHUP; reload with POST /reload instead");
                return;
            };
            loop {
                tokio::select! {
                    _ = self.handles.shutdown.cancelled() => return,
                    got = hangup.recv() => {
                        if got.is_none() { return; }
                        let _ = self.reload("SIGHUP").await;
                    }
                }
            }
        }
    }

    /// Watches the config file's directory (editors replace files by rename, which a watch on the file itself
    /// would lose) and reloads when that file's content changes, after changes settle.
    ///
    /// Only events that can change content count (create, modify, remove, rename, a close after writing): opening or
    /// reading the file (`cat config.json`, or the reload itself) is not a change. And an event reloads only when
    /// the content differs from the last seen, so an identical rewrite or a `touch` does nothing.
    pub async fn watch_file(self: Arc<Self>, file: PathBuf) {
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let target = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        let name = target.file_name().map(|n| n.to_os_string());
        let dir = target
            .parent()
            .map(|d| d.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."));
        let debouncer = notify_debouncer_full::new_debouncer_opt::<_, notify::RecommendedWatcher, _>(
            Duration::from_millis(300),
            None,
            move |result: notify_debouncer_full::DebounceEventResult| {
                if let Ok(events) = result
                    && events.iter().any(|e| {
                        may_change_content(&e.kind)
                            && e.paths.iter().any(|p| p.file_name() == name.as_deref())
                    })
                {
                    // A full channel already holds a pending check; one is enough.
                    let _ = tx.try_send(());
                }
            },
            notify_debouncer_full::NoCache,
            notify::Config::default(),
        );
        let mut debouncer = match debouncer {
            Ok(d) => d,
            Err(err) => {
                tracing::warn!(
                    "cannot watch {}: {err}; reload with SIGHUP or POST /reload",
                    file.display()
                );
                return;
            }
        };
        if let Err(err) = debouncer.watch(&dir, notify::RecursiveMode::NonRecursive) {
            tracing::warn!(
                "cannot watch {}: {err}; reload with SIGHUP or POST /reload",
                dir.display()
            );
            return;
        }
        let mut seen = content_stamp(file.clone()).await;
        tracing::info!("watching {} for changes", file.display());
        loop {
            tokio::select! {
                _ = self.handles.shutdown.cancelled() => return,
                got = rx.recv() => {
                    if got.is_none() { return; }
                    let now = content_stamp(file.clone()).await;
                    if now == seen {
                        tracing::debug!("{} was touched but its content is unchanged; not reloading", file.display());
                        continue;
                    }
                    seen = now;
                    let _ = self.reload("config file changed").await;
                }
            }
        }
    }
}

/// Loads the config from every layer and applies the checks start-up applies, against the bound address.
fn load_checked(overrides: &Overrides, bound: SocketAddr) -> Result<Config, String> {
    let config = config::load(overrides, &Env::from_process()).map_err(|e| e.to_string())?;
    config::serving::check(&config, Some(bound)).map_err(|e| e.to_string())?;
    Ok(config)
}

/// Event kinds that can change what the file holds. Opening and reading it cannot.
fn may_change_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any => true,
        EventKind::Other => false,
    }
}

/// What the file holds, as a digest; `None` when it cannot be read (gone, or not a regular file), which is a state
/// of its own: going from readable to unreadable is a change (reported once), staying unreadable is not.
async fn content_stamp(file: PathBuf) -> Option<[u8; 32]> {
    tokio::task::spawn_blocking(move || read_stamp(&file))
        .await
        .ok()
        .flatten()
}

fn read_stamp(file: &Path) -> Option<[u8; 32]> {
    let bytes = config::regular_file::read(file, config::regular_file::CONFIG_MAX_BYTES).ok()?;
    Some(Sha256::digest(&bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RemoveKind};

    #[test]
    fn reads_are_not_changes_and_writes_are() {
        assert!(!may_change_content(&EventKind::Access(AccessKind::Open(
            notify::event::AccessMode::Any
        ))));
        assert!(!may_change_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Read
        ))));
        assert!(may_change_content(&EventKind::Access(AccessKind::Close(
            AccessMode::Write
        ))));
        assert!(may_change_content(&EventKind::Modify(ModifyKind::Any)));
        assert!(may_change_content(&EventKind::Create(CreateKind::File)));
        assert!(may_change_content(&EventKind::Remove(RemoveKind::File)));
    }
}
