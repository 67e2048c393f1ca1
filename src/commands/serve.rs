//! `serve`: load and validate the config, set up logging, and run the proxy (or the demo).

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};

use super::{Context, print_warnings};
use crate::cli::{LogFormat, ServeArgs};
use crate::config::{Config, HealthCheckMode, TokenConfig};
use crate::demo_log::DemoLabel;
use crate::fake_upstream::{FakeOptions, FakeUpstream, mint_jwt};
use crate::live::Live;

pub fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = ctx.load_config(Some(&args.flags))?;
    if args.demo {
        super::print_warnings_except_tokens(&config);
    } else {
        print_warnings(&config);
    }
    if config.tokens.is_empty() && !args.demo {
        anyhow::bail!(
            "no JetBrains AI JWTs configured; create a config with `jbproxy generate-config`, pass them with -c or \
JWT_TOKENS, or try `jbproxy serve --demo`"
        );
    }
    let placeholder =
        |s: &SecretString| crate::config::placeholder::is_placeholder(s.expose_secret());
    if !args.demo && config.tokens.iter().all(|t| placeholder(&t.token)) {
        anyhow::bail!(
            "every configured token is a placeholder value from {}; put your JetBrains AI JWTs there, or try \
`jbproxy serve --demo`",
            config.origin_of("jetbrains_tokens")
        );
    }
    if config.bearer_token.as_ref().is_none_or(placeholder)
        && !args.demo
        && !is_loopback(&config.server_host)
    {
        anyhow::bail!(
            "no bearer_token of your own set while listening on {}: anyone who can reach it could spend your JWTs; \
set bearer_token (or -k / BEARER_TOKEN), or listen on 127.0.0.1",
            config.server_host
        );
    }
    init_logging(args.log_format, args.demo);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Held for the server's lifetime: dropping it stops the demo upstream.
        let demo = if args.demo {
            Some(setup_demo(&mut config).await?)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(config.listen_address())
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}; pick another port with -p or another address with -h",
                    config.listen_address()
                )
            })?;
        if let Some(demo) = &demo {
            print_demo_banner(demo.made_up_key.as_deref(), listener.local_addr()?);
        }
        let live = Live::build(config, None)?;
        let reload = (!args.demo).then(|| ctx.overrides(&args.flags));
        crate::server::run(live, listener, crate::server::shutdown_signal(), reload).await
    })?;
    Ok(ExitCode::SUCCESS)
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn init_logging(format: LogFormat, demo: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // When stderr's reader goes away (a closed pipe, a log shipper that died), tracing-subscriber would report
    // the failed write with `eprintln!`, which panics on the same broken stderr and kills the task that logged:
    // the shutdown task (SIGTERM then did nothing) or a request's. Failed log writes are dropped instead.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    let _ = match (format, demo) {
        (LogFormat::Text, false) => builder.try_init(),
        (LogFormat::Json, false) => builder.json().try_init(),
        (LogFormat::Text, true) => builder
            .event_format(DemoLabel::text(tracing_subscriber::fmt::format()))
            .try_init(),
        (LogFormat::Json, true) => builder
            .json()
            .event_format(DemoLabel::json(tracing_subscriber::fmt::format().json()))
            .try_init(),
    };
}

/// The demo's fake upstream (kept alive while serving) and the key made up for it, if the user gave none.
struct Demo {
    _upstream: FakeUpstream,
    made_up_key: Option<String>,
}

/// Starts the built-in fake upstream and points the config at it with three demo tokens.
async fn setup_demo(config: &mut Config) -> anyhow::Result<Demo> {
    let fake = FakeUpstream::start(FakeOptions {
        content_events: 12,
        event_delay: Duration::from_millis(40),
        demo_text: Some(
            "Hello from the jbproxy demo! This answer comes from a built-in fake of JetBrains AI, streamed in \
pieces the way the real service sends them. Configure real JWTs to talk to the real thing."
                .to_string(),
        ),
        // A long-running demo must neither use up its fake quota nor keep every request in memory.
        spent_per_chat: 0.0,
        record_requests: false,
        ..FakeOptions::default()
    })
    .await
    .context("cannot start the demo upstream")?;
    if !config.tokens.is_empty() {
        tracing::warn!(
            "demo mode: ignoring the {} configured",
            crate::output::count(config.tokens.len(), "token")
        );
    }
    config.tokens = (1..=3)
        .map(|i| {
            let name = format!("demo-{i}");
            TokenConfig {
                description: Some("demo token for the built-in fake upstream".into()),
                ..TokenConfig::new(&name, mint_jwt(&name, Duration::from_secs(24 * 3600)))
            }
        })
        .collect();
    config.upstream_url = fake.url();
    config.watch_config = false;
    config.health_check_mode = HealthCheckMode::Quota;
    let made_up_key = config
        .bearer_token
        .is_none()
        .then(super::generate_config::new_bearer_token);
    if let Some(key) = &made_up_key {
        config.bearer_token = Some(SecretString::from(key.clone()));
    }
    tracing::warn!(
        "DEMO MODE: answers come from a built-in fake JetBrains AI at {}, not the real service",
        fake.url()
    );
    Ok(Demo {
        _upstream: fake,
        made_up_key,
    })
}

/// The made-up demo key is shown so the curl line works as pasted; a key the user chose is never printed.
fn print_demo_banner(made_up_key: Option<&str>, addr: std::net::SocketAddr) {
    let key = made_up_key.unwrap_or("$YOUR_KEY");
    println!("jbproxy demo: a built-in fake JetBrains AI answers; no real JWT or quota is used.");
    match made_up_key {
        Some(key) => println!("API key made up for this demo: {key}"),
        None => println!("API key: the one you passed with -k (shown below as $YOUR_KEY)"),
    }
    println!("Try:");
    println!(
        "  curl -sN http://{addr}/v1/chat/completions -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n    -d '{{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{{\"role\":\"user\",\"content\":\"Hello!\"}}]}}'"
    );
    println!("Stop with Ctrl-C.");
}
