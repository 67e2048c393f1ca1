//! `Live`: everything a request needs, built from one validated config and swapped whole on reload; and
//! `AppState`, what the server's parts share (the API faces, the checker, the reload triggers).
//!
//! A request takes one snapshot (`Arc<Live>`) at its start and uses it to the end, so a reload never changes the
//! rules under a request in flight. `check` runs the active token checks and model discovery (for the checker and
//! the admin face's check actions), `refresh` renews a token's JWT in a snapshot (through `credentials`, the refresh
//! chains, which keep rotated refresh tokens in the `state_file`); `reloader` builds and swaps in a new one.

mod check;
mod credentials;
mod refresh;
mod reloader;
mod state_file;

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

pub use credentials::{Credentials, ID_TOKEN_AHEAD, RefreshError};
pub use refresh::REFRESH_AHEAD;
pub use reloader::{ReloadError, ReloadSummary, Reloader};

use crate::cluster::Cluster;
use crate::config::Config;
use crate::models::ModelTable;
use crate::pool::Pool;
use crate::profiles::ProfileTable;
use crate::reachability::Reachability;
use crate::secret::KeyDigest;
use crate::upstream::UpstreamClient;

/// What every part of a running server shares. Cheap to clone (handles only).
#[derive(Clone)]
pub struct AppState {
    /// The current snapshot; a reload stores a new one.
    pub live: Arc<ArcSwap<Live>>,
    /// Cancelled when shutdown begins: no new connections, background tasks stop.
    pub shutdown: CancellationToken,
    /// Cancelled when the shutdown grace period is over: open streams end with an error event.
    pub drain: CancellationToken,
    /// Absent in demo mode, where there is no config to reload.
    pub reloader: Option<Arc<Reloader>>,
    pub started: Instant,
}

impl AppState {
    pub fn snapshot(&self) -> Arc<Live> {
        self.live.load_full()
    }
}

pub struct Live {
    pub config: Arc<Config>,
    pub pool: Arc<Pool>,
    pub upstream: UpstreamClient,
    pub models: ModelTable,
    /// Which parameters each profile takes; what the upstream said about its profiles is the model catalogue's
    /// (`models`), which carries over a reload less the tokens it removed.
    pub profiles: ProfileTable,
    /// Whether the upstream answered lately; carried over while the upstream stays the same.
    pub reachability: Arc<Reachability>,
    pub client_key: Option<KeyDigest>,
    /// The key for management endpoints: `admin_token` if set, else the client key.
    pub admin_key: Option<KeyDigest>,
    /// The refresh chains and the state file; shared by every snapshot of a running server.
    pub credentials: Arc<Credentials>,
    /// One turn per token to refresh its JWT, so requests and checks that find the same stale JWT at once refresh
    /// it once (`refresh_jwt`).
    refreshing: Box<[tokio::sync::Mutex<()>]>,
    /// The shared state (Redis) or its absence (memory mode); shared by every snapshot of a running server.
    pub cluster: Arc<Cluster>,
}

impl Live {
    /// Builds a snapshot; tokens already in `previous` keep their state and counters, and the HTTP client (with
    /// its warm connections) is reused when the upstream settings did not change.
    pub fn build(config: Config, previous: Option<&Live>) -> anyhow::Result<Self> {
        let pool = Arc::new(Pool::new(&config, previous.map(|p| p.pool.as_ref())));
        let (upstream, reachability) = match previous {
            Some(p) if same_upstream(&p.config, &config) => {
                (p.upstream.for_config(&config), Arc::clone(&p.reachability))
            }
            Some(p) if p.config.upstream_url == config.upstream_url => {
                (UpstreamClient::new(&config)?, Arc::clone(&p.reachability))
            }
            _ => (UpstreamClient::new(&config)?, Arc::default()),
        };
        let client_key = config
            .bearer_token
            .as_ref()
            .map(|k| KeyDigest::new(k.expose_secret()));
        let admin_key = config
            .admin_token
            .as_ref()
            .map(|k| KeyDigest::new(k.expose_secret()))
            .or_else(|| client_key.clone());
        let credentials = match previous {
            Some(p) => Arc::clone(&p.credentials),
            None => Arc::new(Credentials::open(config.start_up.state_file.clone())?),
        };
        // The backend is read at start-up only: a reload keeps the running one (and says a change needs a restart).
        let cluster = match previous {
            Some(p) => Arc::clone(&p.cluster),
            None => Arc::new(Cluster::new(&config.start_up.state)),
        };
        if let Some(sink) = cluster.sink() {
            pool.share(sink);
            credentials.share(Arc::clone(&cluster));
        }
        let models = config.model_table().carry_over(previous.map(|p| &p.models));
        // Listings of tokens a reload removed must not keep their profiles listed.
        let configured = pool.slots().iter().map(|s| s.fingerprint.clone()).collect();
        models.catalog().retain_tokens(&configured);
        let profiles = ProfileTable::new(&config.profile_parameters, models.catalog().clone());
        let refreshing = (0..pool.len())
            .map(|_| tokio::sync::Mutex::new(()))
            .collect();
        Ok(Self {
            refreshing,
            models,
            profiles,
            config: Arc::new(config),
            pool,
            upstream,
            reachability,
            client_key,
            admin_key,
            credentials,
            cluster,
        })
    }

    /// Attempts per request: the configured `max_attempts`, else every enabled token once, at most 10.
    pub fn max_attempts(&self) -> usize {
        match self.config.max_attempts {
            Some(n) => n as usize,
            None => self
                .pool
                .slots()
                .iter()
                .filter(|s| s.config.enabled)
                .count()
                .clamp(1, 10),
        }
    }
}

fn same_upstream(a: &Config, b: &Config) -> bool {
    a.upstream_url == b.upstream_url
        && a.upstream_http == b.upstream_http
        && a.grazie_agent == b.grazie_agent
        && a.connect_timeout == b.connect_timeout
        && a.request_timeout == b.request_timeout
        && a.first_byte_timeout == b.first_byte_timeout
        && a.idle_timeout == b.idle_timeout
}
