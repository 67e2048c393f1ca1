//! `serve`: load and validate the config, set up logging, and run the proxy (or the demo).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::SecretString;

use super::{Context, print_warnings};
use crate::cli::{LogFormat, ServeArgs};
use crate::config::{Config, HealthCheckMode, TokenConfig};
use crate::fake_upstream::{FakeOptions, FakeUpstream, mint_jwt};
use crate::live::Live;

pub fn run(ctx: &Context, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = ctx.load_config(Some(&args.flags))?;
    if args.demo {
        super::print_warnings_except_tokens(&config);
    } else {
        print_warnings(&config);
    }
    // The demo brings its own tokens and key; everything else must pass the checks a reload passes too.
    if !args.demo {
        crate::config::serving::check(&config, None)?;
    }
    let logging = crate::logging::init(matches!(args.log_format, LogFormat::Json), args.demo);
    let served = serve(ctx, args, &mut config);
    logging.finish();
    served?;
    Ok(ExitCode::SUCCESS)
}

fn serve(ctx: &Context, args: ServeArgs, config: &mut Config) -> anyhow::Result<()> {
    // The main event loop; `Workers` starts the others (`worker_threads`, one per core by default).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        // Held for the server's lifetime: dropping it stops the demo upstream.
        let demo = if args.demo {
            Some(setup_demo(config).await?)
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
        // A host name is judged by the address it actually bound to.
        crate::config::serving::check(config, Some(listener.local_addr()?))?;
        if let Some(demo) = &demo {
            print_demo_banner(demo.made_up_key.as_deref(), listener.local_addr()?)?;
        }
        // The loops first: the upstream client keeps one HTTP client per loop.
        let loops = crate::event_loop::count(config.start_up.worker_threads);
        let workers =
            crate::server::Workers::start(loops).context("cannot start the event loop threads")?;
        let live = Live::build(config.clone(), None)?;
        let reload = (!args.demo).then(|| ctx.overrides(&args.flags));
        crate::server::run(
            live,
            listener,
            crate::server::shutdown_signal(),
            reload,
            workers,
        )
        .await
    })
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
    config.start_up.watch_config = false;
    // The demo's tokens need no refreshing, and a state file left by a real setup is none of its business.
    config.start_up.state_file = None;
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

/// The made-up demo key is shown so the curl line works as pasted; a key the user chose is never printed. Printed
/// through `output::print`, so a closed stdout (`jbproxy serve --demo | head -3`) does not stop the demo.
fn print_demo_banner(made_up_key: Option<&str>, addr: std::net::SocketAddr) -> std::io::Result<()> {
    let key = made_up_key.unwrap_or("$YOUR_KEY");
    let key_line = match made_up_key {
        Some(key) => format!("API key made up for this demo: {key}"),
        None => "API key: the one you passed with -k (shown below as $YOUR_KEY)".to_string(),
    };
    crate::output::print(format!(
        "jbproxy demo: a built-in fake JetBrains AI answers; no real JWT or quota is used.\n{key_line}\nTry:\n  \
curl -sN http://{addr}/v1/chat/completions -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n    \
-d '{{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{{\"role\":\"user\",\"content\":\"Hello!\"}}]}}'\n\
Status page: http://{addr}/ui (log in with the API key)\n\
Stop with Ctrl-C."
    ))
}
