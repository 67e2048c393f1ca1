//! How a reload is done, whatever triggered it (`reload.rs`: a file change, SIGHUP; the admin face: `POST /reload`):
//! the config is loaded from the sources the server started with and checked in full, including the checks start-up
//! makes (against the address actually bound); only a good one becomes a new `Live`, swapped in with one store. A
//! broken one leaves the running config untouched and is reported. Start-up settings keep their running values and
//! are named as needing a restart.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use super::Live;
use crate::config::{self, Config, ConfigError, Env, Overrides};

/// Reloads the config from the same sources the server started with.
pub struct Reloader {
    overrides: Overrides,
    live: Arc<ArcSwap<Live>>,
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

/// Why a reload was refused; the running config is unchanged. Each says what is wrong in the new config.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The config does not load (a syntax error, a bad value, an unreadable file).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// It loads but may not serve (no token, no key on an exposed listener).
    #[error(transparent)]
    Refused(#[from] config::serving::Refused),
    /// The new snapshot could not be built (the HTTP client).
    #[error("{0:#}")]
    Build(anyhow::Error),
    /// The blocking load task died.
    #[error("reload task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl Reloader {
    pub fn new(overrides: Overrides, live: Arc<ArcSwap<Live>>, bound: SocketAddr) -> Arc<Self> {
        Arc::new(Self {
            overrides,
            live,
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

    pub async fn reload(&self, trigger: &str) -> Result<ReloadSummary, ReloadError> {
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

    async fn swap_in(&self, trigger: &str) -> Result<ReloadSummary, ReloadError> {
        let overrides = self.overrides.clone();
        let bound = self.bound;
        // Blocking: reads the file, and the serving check may resolve a host name.
        let mut config =
            tokio::task::spawn_blocking(move || load_checked(&overrides, bound)).await??;
        for warning in &config.warnings {
            tracing::warn!("{warning}");
        }
        let old = self.live.load_full();
        let needs_restart = config::serving::keep_start_up_settings(&old.config, &mut config);
        let live = Live::build(config, Some(&old)).map_err(ReloadError::Build)?;
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
        self.live.store(Arc::new(live));
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
}

/// Loads the config from every layer and applies the checks start-up applies, against the bound address.
fn load_checked(overrides: &Overrides, bound: SocketAddr) -> Result<Config, ReloadError> {
    let config = config::load(overrides, &Env::from_process())?;
    config::serving::check(&config, Some(bound))?;
    Ok(config)
}
