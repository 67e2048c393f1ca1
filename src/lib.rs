//! jbproxy: an OpenAI-compatible proxy in front of JetBrains AI that balances requests over many JWTs, and the
//! offline tools around it.
//!
//! Layout (one-way, see docs/ARCHITECTURE.md): `cli` and `commands` (the command line, thin) over `server`
//! (accept loop, lifecycle, the background tasks), which runs `api` (the HTTP faces, with `api::relay` the one
//! failover-and-streaming engine), `checker` (active token checks) and `reload` (its triggers). They share `live`
//! (`AppState`, the snapshot swapped on reload, JWT refresh, the reloader), built over `pool` (token selection and
//! standing), `upstream` (the JetBrains client and its wire model), `translate` (pure: each API face parses into one
//! typed conversation, one mapping makes the upstream body, each face writes answers from the upstream's events),
//! `reachability` (whether the upstream answers), `cluster` (the pool's state shared through Redis, with the pool
//! itself I/O-free) and `config` (loading, layering, validation, redaction). Leaves:
//! `metrics`, `traffic` (the last hour in 10-second samples, for the status page), `logging`, `demo_log`, `epoch`,
//! `event_loop` (which of serve's per-core loops a thread runs), `jwt` and `secret` (how tokens are read and
//! named), `models` (model id → profile), `profiles` (the upstream's parameter keys and which profile takes which),
//! `id_pattern` (the globs both match ids with), `output`. Beside them: `admin_client` (what `jbproxy stats` reads)
//! and `fake_upstream` (a faithful fake for tests, bench and demo).

pub mod admin_client;
pub mod api;
pub mod checker;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod demo_log;
pub mod epoch;
pub mod event_loop;
pub mod fake_upstream;
pub mod id_pattern;
pub mod jwt;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod models;
pub mod output;
pub mod pool;
pub mod profiles;
pub mod reachability;
pub mod reload;
pub mod secret;
pub mod server;
pub mod traffic;
pub mod translate;
pub mod upstream;
