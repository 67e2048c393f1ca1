//! jbproxy: an OpenAI-compatible proxy in front of JetBrains AI that balances requests over many JWTs, and the
//! offline tools around it.
//!
//! Layout: `config` (loading, layering, validation, redaction), `jwt` and `secret` (how tokens are read and named),
//! `models` (model id → profile), `profiles` (which parameters each profile takes), `cli` and `commands` (the command
//! line, thin), and the serve path:
//! `pool` (token selection and health), `upstream` (the JetBrains client and the upstream's wire model: its request
//! body, its events and their parser), `translate` (pure: each API face parses into one typed conversation, one
//! mapping turns it into the upstream body, and each face writes answers from the upstream's events), `api` (the
//! HTTP faces, with `api::relay` the one failover-and-streaming engine), `live` (the snapshot swapped on
//! reload), `health` (active checks and refresh), `reachability` (whether the upstream answers), `reload`,
//! `metrics`, `logging` (the server's log), `server` (accept loop and lifecycle), `admin_client` (what
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
pub mod profiles;
pub mod reachability;
pub mod reload;
pub mod secret;
pub mod server;
pub mod translate;
pub mod upstream;
