//! The shared mode (`state.backend: redis`, docs/DEPLOY.md): N replicas keep one token pool in Redis. This module
//! owns every Redis exchange; the pool stays I/O-free and only sends its changes into a channel and applies
//! records to its local mirror (`pool::shared`), so picking a token never waits for Redis.
//!
//! - `sync`: the background task. It connects (retrying with backoff), reconciles, writes the pool's changes and
//!   publishes them, applies what the other replicas publish (`sync::state`), and heart-beats this replica's leases
//!   and counters (`sync::presence`); it reconnects when its subscription goes silent.
//! - `refresh`: the lock that lets one replica refresh a JWT while the others wait for the JWT it stores.
//! - `view`: the cluster view for `/stats?scope=cluster`.
//!
//! Keys (all under the configured prefix, tokens by fingerprint, never the token): `token:{fp}` (the standing record),
//! `quota:{fp}` (the last quota snapshot), `jwt:{fp}` (a refreshed JWT), `lock:refresh:{fp}`, `replicas` (a sorted set
//! of replica ids by last heartbeat), `replica:{id}` (its address and counters), `lease:{id}` (its requests in flight
//! per token), and the pub/sub channel `events`.

mod refresh;
mod sync;
mod view;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

pub use refresh::Turn;
pub use sync::run;

use crate::config::state::StateBackend;
use crate::pool::shared::{Change, QuotaRecord, Record};

/// A replica that has not heart-beaten for this long is gone: it leaves the cluster view and its leases (requests
/// in flight) stop counting. Its lease keys expire after the same time, so a crashed replica's count drains.
pub const REPLICA_TTL: Duration = Duration::from_secs(3);

/// How often this replica writes its leases (when they changed) and reads the others'.
pub const TICK: Duration = Duration::from_millis(100);

/// How often this replica writes its heartbeat and counters.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// Where a command to Redis gives up: Redis on the same network answers in a millisecond; waiting longer would
/// only hold back the writer, never a client request.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(1000);

const MEMORY: u8 = 0;
const CONNECTING: u8 = 1;
const CONNECTED: u8 = 2;
const UNREACHABLE: u8 = 3;

/// The shared state's handle, one per server (it survives reloads, like the refresh chains).
pub struct Cluster {
    redis: Option<Redis>,
    /// This replica's id: host name and process id, unique among replicas sharing a Redis.
    pub replica: String,
    /// The address this replica listens on, for the cluster view.
    address: Mutex<String>,
    started_ms: i64,
    /// The live connection while Redis answers; `None` while it does not (then everything stays local).
    conn: ArcSwapOption<MultiplexedConnection>,
    status: AtomicU8,
    sink: UnboundedSender<Change>,
    /// Taken by the `sync` task.
    changes: Mutex<Option<UnboundedReceiver<Change>>>,
    /// Turns true once the `sync` task first reconciled with Redis: the start pass waits for it (`joined`).
    joined: tokio::sync::watch::Sender<bool>,
    /// Rotated refresh tokens Redis did not take (it was away, or refused the write), by key: written by the `sync`
    /// task once it can, so the other replicas do not go on with the spent ones.
    unshared: Mutex<std::collections::HashMap<String, secrecy::SecretString>>,
}

struct Redis {
    client: redis::Client,
    prefix: String,
    /// The URL with any password redacted, for messages.
    shown: String,
}

/// What the replicas tell each other on the `events` channel. Never a JWT: a replica that hears `Jwt` reads it
/// from its key.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Message {
    Standing {
        from: String,
        fp: String,
        record: Record,
    },
    Operator {
        from: String,
        fp: String,
        disabled: bool,
    },
    Jwt {
        from: String,
        fp: String,
    },
    Quota {
        from: String,
        fp: String,
        quota: QuotaRecord,
    },
    Fault {
        from: String,
        fp: String,
    },
    FaultsCleared {
        from: String,
        fp: String,
    },
    /// Sent by a replica to itself: its coming back proves the subscription still delivers (`sync`).
    Ping {
        from: String,
    },
}

impl Cluster {
    /// The handle for `backend`; connects nothing (the `sync` task does).
    pub fn new(backend: &StateBackend) -> Self {
        let redis = match backend {
            StateBackend::Memory => None,
            StateBackend::Redis { url, prefix } => match redis::Client::open(url.as_str()) {
                Ok(client) => Some(Redis {
                    client,
                    prefix: prefix.clone(),
                    shown: crate::secret::redact_url(url),
                }),
                // The config checked the URL; should it still fail, serving from memory is what Redis down does.
                Err(_) => {
                    tracing::error!(
                        "state.url {} is not a Redis URL; the pool's state stays in memory",
                        crate::secret::redact_url(url)
                    );
                    None
                }
            },
        };
        let (sink, changes) = unbounded_channel();
        Self {
            status: AtomicU8::new(if redis.is_some() { CONNECTING } else { MEMORY }),
            redis,
            replica: replica_id(),
            address: Mutex::new(String::new()),
            started_ms: crate::epoch::now_ms(),
            conn: ArcSwapOption::empty(),
            sink,
            changes: Mutex::new(Some(changes)),
            joined: tokio::sync::watch::Sender::new(false),
            unshared: Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Waits until the shared state is this replica's (the first reconcile with Redis is done), for at most
    /// `limit`; true at once in memory mode. False when Redis did not answer in time: the caller goes on alone.
    pub async fn joined(&self, limit: Duration) -> bool {
        if !self.is_shared() {
            return true;
        }
        let mut joined = self.joined.subscribe();
        tokio::time::timeout(limit, joined.wait_for(|j| *j))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Whether the state is shared (the redis backend), whether or not Redis answers now.
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Where the pool sends its changes (`Pool::share`); `None` in memory mode.
    pub fn sink(&self) -> Option<UnboundedSender<Change>> {
        self.redis.as_ref().map(|_| self.sink.clone())
    }

    pub fn set_address(&self, address: String) {
        *self.address.lock().unwrap_or_else(|p| p.into_inner()) = address;
    }

    fn address(&self) -> String {
        self.address
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// For `/health`: `memory`, `redis`, `redis: connecting` or `redis: unreachable`.
    pub fn status(&self) -> &'static str {
        match self.status.load(Ordering::Acquire) {
            MEMORY => "memory",
            CONNECTED => "redis",
            CONNECTING => "redis: connecting",
            _ => "redis: unreachable",
        }
    }

    /// The connection, while Redis answers.
    fn connection(&self) -> Option<MultiplexedConnection> {
        self.conn.load_full().map(|c| (*c).clone())
    }

    fn key(&self, rest: &str) -> String {
        let prefix = self.redis.as_ref().map_or("", |r| r.prefix.as_str());
        format!("{prefix}{rest}")
    }
}

/// `host-pid`: unique among the replicas of one Redis (two processes on one host differ by pid).
fn replica_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "replica".to_string());
    format!("{host}-{}", std::process::id())
}

/// A Redis command with the module's deadline; a timeout counts as an error like any other.
async fn within<T>(
    what: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, redis::RedisError> {
    match tokio::time::timeout(COMMAND_TIMEOUT, what).await {
        Ok(result) => result,
        Err(_) => Err(redis::RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "Redis did not answer in time",
        ))),
    }
    .inspect_err(|_| crate::metrics::redis_error())
}
