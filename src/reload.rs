//! Hot reload: the config file changing (its directory is watched, events debounced), SIGHUP, and `POST /reload`
//! all lead here. The new config is loaded and validated in full first; only a good one is swapped in, in one store.
//! A broken one leaves the running config untouched and is reported.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::{self, Env, Overrides};
use crate::live::Live;
use crate::server::Handles;

/// Reloads the config from the same sources the server started with.
pub struct Reloader {
    overrides: Overrides,
    handles: Handles,
    /// One reload at a time, so two triggers cannot interleave their swaps.
    busy: tokio::sync::Mutex<()>,
}

/// What a successful reload changed, for logs and `/reload`.
#[derive(Debug, serde::Serialize)]
pub struct ReloadSummary {
    pub tokens: usize,
    pub kept_state: usize,
    pub strategy: &'static str,
    pub file: Option<String>,
}

impl Reloader {
    pub fn new(overrides: Overrides, handles: Handles) -> Arc<Self> {
        Arc::new(Self {
            overrides,
            handles,
            busy: tokio::sync::Mutex::new(()),
        })
    }

    pub async fn reload(&self, trigger: &str) -> Result<ReloadSummary, String> {
        let _one_at_a_time = self.busy.lock().await;
        let overrides = self.overrides.clone();
        let loaded =
            tokio::task::spawn_blocking(move || config::load(&overrides, &Env::from_process()))
                .await
                .map_err(|e| format!("reload task failed: {e}"))?;
        let config = match loaded {
            Ok(config) => config,
            Err(err) => {
                tracing::error!(
                    "config reload ({trigger}) failed, keeping the running config: {err}"
                );
                return Err(err.to_string());
            }
        };
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        let old = self.handles.live.load_full();
        let live = Live::build(config, Some(&old)).map_err(|e| {
            tracing::error!("config reload ({trigger}) failed, keeping the running config: {e:#}");
            format!("{e:#}")
        })?;
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
        };
        self.handles.live.store(Arc::new(live));
        tracing::info!(
            "config reloaded ({trigger}): {} ({} kept their state), strategy: {}",
            crate::output::count(summary.tokens, "token"),
            summary.kept_state,
            summary.strategy
        );
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
    /// would lose) and reloads when that file changes, after changes settle.
    pub async fn watch_file(self: Arc<Self>, file: PathBuf) {
        let (tx, mut rx) = mpsc::channel::<()>(1);
        let target = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
        let name = target.file_name().map(|n| n.to_os_string());
        let dir = target
            .parent()
            .map(|d| d.to_path_buf())
            .unwrap_or_else(|| PathBuf::from("."));
        let debouncer = notify_debouncer_mini::new_debouncer(
            Duration::from_millis(300),
            move |result: notify_debouncer_mini::DebounceEventResult| {
                if let Ok(events) = result
                    && events
                        .iter()
                        .any(|e| e.path.file_name().map(|n| n.to_os_string()) == name)
                {
                    // A full channel already holds a pending reload; one is enough.
                    let _ = tx.try_send(());
                }
            },
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
        if let Err(err) = debouncer
            .watcher()
            .watch(&dir, notify::RecursiveMode::NonRecursive)
        {
            tracing::warn!(
                "cannot watch {}: {err}; reload with SIGHUP or POST /reload",
                dir.display()
            );
            return;
        }
        tracing::info!("watching {} for changes", file.display());
        loop {
            tokio::select! {
                _ = self.handles.shutdown.cancelled() => return,
                got = rx.recv() => {
                    if got.is_none() { return; }
                    let _ = self.reload("config file changed").await;
                }
            }
        }
    }
}
