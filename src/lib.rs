//! jbproxy: an OpenAI-compatible proxy in front of JetBrains AI that balances requests over many JWTs, and the
//! offline tools around it.
//!
//! Layout: `config` (loading, layering, validation, redaction), `jwt` and `secret` (how tokens are read and named),
//! `models` (model id → profile), `cli` and `commands` (the command line, thin), and the serve path:
//! `pool` (token selection and health), `upstream` (the JetBrains client), `translate` (pure API translation),
//! `api` (the HTTP faces, with `api::relay` the one failover-and-streaming engine), `live` (the snapshot swapped on
//! reload), `health` (active checks and refresh), `reachability` (whether the upstream answers), `reload`,
//! `metrics`, `traffic` (the last hour in 10-second samples, for the status page), `logging` (the server's log), `server` (accept loop and lifecycle), `admin_client` (what
//! `jbproxy stats` reads), `demo_log` (the label on a demo's log lines), and `fake_upstream` (a faithful fake for
//! tests, bench and demo).

pub mod admin_client;
pub mod api;
pub mod cli;
pub mod commands;
pub mod config;
pub mod demo_log;
pub mod fake_upstream;
pub mod health;
pub mod jwt;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod models;
pub mod output;
pub mod pool;
pub mod reachability;
pub mod reload;
pub mod secret;
pub mod server;
pub mod traffic;
pub mod translate;
pub mod upstream;
