//! The integration tests, as one binary (one link instead of one per file): the CLI as a process, the server over
//! real sockets on 127.0.0.1, against the in-repo fake upstream. One module per area.

// Tests start their own servers, clients and load in tasks that end with the test; they are not the server's
// background tasks, which clippy.toml asks to be spawned through `server::tasks`.
#![allow(clippy::disallowed_methods)]

mod common;

mod admin_actions;
mod agents;
mod architecture;
mod body_memory;
mod check_tokens_online;
mod cli_config;
mod cli_smoke;
mod cli_tools;
mod client_details;
mod completions;
mod config_examples;
mod discovery_refresh;
mod docs;
mod event_loops;
mod fidelity;
mod first_hour;
mod golden;
mod hardening_net;
mod hostile_input;
mod native_routes;
mod operator_safety;
mod pool_admin;
mod pool_balance;
mod pool_failover;
mod pool_health;
mod pool_reload;
mod reliability_faults;
mod reliability_mixed;
mod replicas;
mod responses;
mod sdk;
mod secrets_never_leak;
mod serve_anthropic;
mod serve_cli;
mod serve_limits;
mod serve_openai;
mod server_tasks;
mod status_page;
mod stream_timing;
mod upstream_http;
mod upstream_keepalive;
mod upstream_tls;
