//! A faithful fake of the JetBrains AI ("Grazie") upstream, for integration tests, benchmarks and
//! `jbproxy serve --demo`: every endpoint, event type and error status of `docs/UPSTREAM.md`, with strict checking
//! of what the proxy sends and per-token behaviours (errors, slowness, cuts) switchable at runtime.
//!
//! What a chat gets: the echo of the last user message (`Echo: …`, or the demo text), even when tools are offered;
//! `Tool said: <result>` when the conversation ends with a tool result; and a **tool call** only when the last user
//! message carries a directive:
//!
//! - `[[tool]]`: call the first tool offered with `{"input": <the message without the directive>}`;
//! - `[[tool:NAME]]`: call the tool NAME (or the one tool whose name ends in `__NAME` or `.NAME`, such as
//!   `mcp__probe__probe_nonce` for `probe_nonce`) with the same arguments;
//! - `[[tool:NAME {"city": "Paris"}]]`: call NAME with these arguments;
//! - `[[tools]]`: call every tool offered at once (parallel calls, their fragments interleaved).
//!
//! A directive that cannot be followed is answered with text saying why (`directive.rs` has the details). The
//! parameters have the last word (`reply.rs`): `tool-choice-required` or `-named` makes a call without a directive,
//! `tool-choice-none` none with one, `parallel-tool-calls: false` one call at most; `response-format`,
//! `number-of-choices` and `length` shape the text.
//!
//! Layout: this file holds the public handle and shared state; `handlers` routes and answers requests, `validate`
//! checks chat bodies, `parameters` reads their parameters and shapes answers to them, `reply` builds the SSE
//! events, `directive` reads the tool directive, `stream` times their delivery, `quota` keeps the per-token quota,
//! `profiles` answers the profile catalogue, `oauth` is JetBrains' account service (refresh token → ID token, with
//! rotation), `auth` mints and reads JWTs, `behaviour` defines what a token makes the fake do.

mod auth;
mod behaviour;
mod directive;
mod handlers;
mod native;
mod oauth;
mod parameters;
mod profiles;
mod quota;
mod reply;
mod stream;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::serve::ListenerExt;
use tokio_util::sync::CancellationToken;

pub use auth::{mint_expired_jwt, mint_jwt};
pub use behaviour::Behaviour;
pub use profiles::Profiles;
use quota::Quota;

/// Tunables of a fake instance.
#[derive(Clone, Debug)]
pub struct FakeOptions {
    /// How many `Content` events carry the answer text (default 3); also the number of tool-argument fragments
    /// (at least 2).
    pub content_events: usize,
    /// Delay before each event after the first, for every token (default none). `PauseBetweenEvents` overrides it.
    pub event_delay: Duration,
    /// Answer text instead of the echo of the last user message.
    pub demo_text: Option<String>,
    /// Send one event of an unknown type (`ThinkingMetadata`) first in every stream (default true).
    pub unknown_events: bool,
    /// Quota units each successful chat costs (default 1.0); 0 keeps quotas fixed during long benchmarks.
    pub spent_per_chat: f64,
    /// Keep every request for `requests()` (default true). Long-running uses (benchmarks, the demo) turn it off
    /// so memory stays flat; counters are kept either way.
    pub record_requests: bool,
    /// Which parameters each profile takes (a key a profile does not take is a 400, as upstream); default the
    /// built-in table (`src/profiles/profiles.json`).
    pub profiles: crate::profiles::ProfileTable,
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            content_events: 3,
            event_delay: Duration::ZERO,
            demo_text: None,
            unknown_events: true,
            spent_per_chat: 1.0,
            record_requests: true,
            profiles: crate::profiles::ProfileTable::default(),
        }
    }
}

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The JWT's `sub` (or, for a refresh, the registered token name), when it could be read.
    pub token_name: Option<String>,
    /// All headers; `grazie-authenticate-jwt` and `authorization` are marked sensitive so `Debug` hides them.
    pub headers: HeaderMap,
    /// The body as JSON, `Null` when empty or not JSON.
    pub body: serde_json::Value,
    /// The status answered; 0 when the request was never answered (`Hang`).
    pub status: u16,
    /// The HTTP version the request came in (the fake serves HTTP/1.1 and HTTP/2 by prior knowledge), so a test
    /// can prove which one the proxy spoke (`upstream_http`).
    pub version: axum::http::Version,
}

/// A license the refresh endpoint knows: the ID tokens that may ask for it.
struct License {
    id_tokens: Vec<String>,
    token_name: String,
}

/// An account of the fake OAuth endpoint, under its current refresh token.
#[derive(Clone)]
struct Account {
    license_id: String,
    token_name: String,
}

/// State shared between the handle and the request handlers.
struct Shared {
    options: FakeOptions,
    behaviours: Mutex<HashMap<String, Behaviour>>,
    quotas: Mutex<HashMap<String, Quota>>,
    /// `profiles/v8` answers set per token name (the default answer otherwise).
    profiles: Mutex<HashMap<String, Profiles>>,
    chat_counts: Mutex<HashMap<String, usize>>,
    log: Mutex<Vec<RecordedRequest>>,
    licenses: Mutex<HashMap<String, License>>,
    /// By current refresh token; each use rotates it (the old one is refused from then on).
    accounts: Mutex<HashMap<String, Account>>,
    /// Every secret the fake made up (refresh and ID tokens, JWTs), for tests that look for them in logs.
    issued: Mutex<Vec<String>>,
    serial: AtomicU64,
    active: Arc<AtomicUsize>,
    tool_serial: AtomicU64,
    /// How long the JWT refresh endpoint takes to answer (a slow account service, for start-up races).
    refresh_delay: Mutex<Duration>,
    /// Fired when the handle goes: stops accepting, ends hanging requests and delayed streams.
    cancel: CancellationToken,
}

/// Locks ignoring poison: a panicking test thread must not turn every later call into a second panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn behaviour(&self, token_name: &str) -> Behaviour {
        lock(&self.behaviours)
            .get(token_name)
            .cloned()
            .unwrap_or_default()
    }

    /// The token's quota as of now (rolled over to a new period if its `until` has passed).
    fn quota_entry<R>(&self, token_name: &str, f: impl FnOnce(&mut Quota) -> R) -> R {
        let now = crate::epoch::now_ms();
        let mut quotas = lock(&self.quotas);
        let entry = quotas
            .entry(token_name.to_owned())
            .or_insert_with(|| Quota::fresh(now));
        entry.roll_over(now);
        f(entry)
    }
}

/// A running fake upstream. Serves until `shutdown` or drop.
pub struct FakeUpstream {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeUpstream {
    /// Binds 127.0.0.1 on a free port and serves in a spawned tokio task.
    pub async fn start(options: FakeOptions) -> std::io::Result<FakeUpstream> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), options).await
    }

    /// Binds `addr` and serves in a spawned tokio task.
    pub async fn start_on(addr: SocketAddr, options: FakeOptions) -> std::io::Result<FakeUpstream> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            options,
            behaviours: Mutex::default(),
            quotas: Mutex::default(),
            profiles: Mutex::default(),
            chat_counts: Mutex::default(),
            log: Mutex::default(),
            licenses: Mutex::default(),
            accounts: Mutex::default(),
            issued: Mutex::default(),
            serial: AtomicU64::new(1),
            active: Arc::default(),
            tool_serial: AtomicU64::new(1),
            refresh_delay: Mutex::new(Duration::ZERO),
            cancel: CancellationToken::new(),
        });
        let app = Router::new()
            .fallback(handlers::handle)
            .with_state(Arc::clone(&shared));
        // No Nagle delay: events are small writes that tests time one by one.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let stop = shared.cancel.clone().cancelled_owned();
        #[allow(
            clippy::disallowed_methods,
            reason = "the FakeUpstream value owns this task: dropping it cancels `stop`, which ends the serve"
        )]
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await;
        });
        Ok(FakeUpstream { addr, shared })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to configure as `upstream_url`, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets how requests with this token name are answered from now on.
    pub fn set_behaviour(&self, token_name: &str, b: Behaviour) {
        lock(&self.shared.behaviours).insert(token_name.to_owned(), b);
    }

    /// Every request received so far, in arrival order (empty if `record_requests` is off).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// How many chat requests (any of the three chat endpoints, whatever the answer) carried this token name.
    pub fn chat_requests_for(&self, token_name: &str) -> usize {
        lock(&self.shared.chat_counts)
            .get(token_name)
            .copied()
            .unwrap_or(0)
    }

    /// Chat responses in flight: from acceptance until the body is finished or dropped by the client.
    pub fn active_streams(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Sets a token's quota. A chat answers 477 while `used >= maximum`; once `until_ms` passes the quota starts a
    /// new 30-day period with nothing used.
    pub fn set_quota(&self, token_name: &str, used: f64, maximum: f64, until_ms: i64) {
        lock(&self.shared.quotas).insert(
            token_name.to_owned(),
            Quota {
                used,
                maximum,
                until_ms,
            },
        );
    }

    /// Sets what `profiles/v8` answers this token from now on (by default: every profile of the built-in table,
    /// without parameters).
    pub fn set_profiles(&self, token_name: &str, answer: Profiles) {
        lock(&self.shared.profiles).insert(token_name.to_owned(), answer);
    }

    /// Lets the refresh endpoint issue fresh JWTs for `token_name` given this license id and account ID token.
    pub fn register_license(&self, license_id: &str, id_token: &str, token_name: &str) {
        let mut licenses = lock(&self.shared.licenses);
        let license = licenses
            .entry(license_id.to_owned())
            .or_insert_with(|| License {
                id_tokens: Vec::new(),
                token_name: token_name.to_owned(),
            });
        license.token_name = token_name.to_owned();
        license.id_tokens.push(id_token.to_owned());
    }

    /// Makes the JWT refresh endpoint (`provide-access/license/v2`) answer only after `delay`.
    pub fn set_refresh_delay(&self, delay: Duration) {
        *lock(&self.shared.refresh_delay) = delay;
    }

    /// Lets the OAuth endpoint (`/oauth2/token`) take this refresh token: it answers with an ID token the refresh
    /// endpoint accepts for `license_id` (JWTs for `token_name`), and a new refresh token that replaces this one.
    pub fn register_account(&self, refresh_token: &str, license_id: &str, token_name: &str) {
        lock(&self.shared.licenses)
            .entry(license_id.to_owned())
            .or_insert_with(|| License {
                id_tokens: Vec::new(),
                token_name: token_name.to_owned(),
            });
        let account = Account {
            license_id: license_id.to_owned(),
            token_name: token_name.to_owned(),
        };
        lock(&self.shared.accounts).insert(refresh_token.to_owned(), account);
    }

    /// The refresh token the OAuth endpoint takes now for `token_name`'s account.
    pub fn current_refresh_token(&self, token_name: &str) -> Option<String> {
        lock(&self.shared.accounts)
            .iter()
            .find(|(_, a)| a.token_name == token_name)
            .map(|(token, _)| token.clone())
    }

    /// Every refresh token, ID token and JWT the fake's OAuth and refresh endpoints have issued.
    pub fn issued_secrets(&self) -> Vec<String> {
        lock(&self.shared.issued).clone()
    }

    /// Stops serving: the port is closed, hanging requests and delayed streams are broken off.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.shared.cancel.cancel();
    }
}
