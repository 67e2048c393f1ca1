//! The in-repo fake JetBrains AI upstream as a standalone process, for test groups that drive `jbproxy serve` from
//! outside Rust (the coding-agents group, `tests/agents/run.py`). Not part of CI by itself.
//!
//! ```text
//! cargo run --example fake_upstream -- --write-config /tmp/jbproxy-agents.json --bearer KEY --proxy-port 18080
//! ```
//! It binds 127.0.0.1 on a free port (or `--port N`), writes a complete jbproxy config pointing `upstream_url` at
//! itself with one freshly minted fake JWT (mode 0600: it holds the key and the JWT), prints
//! `listening on http://127.0.0.1:PORT`, and serves the fake's default behaviour (echo of the last user message;
//! a tool call only when that message carries a `[[tool]]` / `[[tool:NAME]]` directive, see
//! `src/fake_upstream/mod.rs`) until SIGTERM or Ctrl-C.

use std::io::Write as _;
use std::time::Duration;

use anyhow::Context as _;
use jbproxy::fake_upstream::{FakeOptions, FakeUpstream, mint_jwt};
use serde_json::json;

struct Args {
    port: u16,
    write_config: Option<String>,
    bearer: String,
    proxy_port: u16,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        port: 0,
        write_config: None,
        bearer: String::new(),
        proxy_port: 8080,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => args.port = value()?.parse().context("--port takes a port number")?,
            "--write-config" => args.write_config = Some(value()?),
            "--bearer" => args.bearer = value()?,
            "--proxy-port" => {
                args.proxy_port = value()?
                    .parse()
                    .context("--proxy-port takes a port number")?;
            }
            other => anyhow::bail!(
                "unknown option {other}; options: --port N, --write-config PATH, --bearer KEY, --proxy-port N"
            ),
        }
    }
    if args.write_config.is_some() && args.bearer.is_empty() {
        anyhow::bail!("--write-config needs --bearer KEY (the key clients will send to jbproxy)");
    }
    Ok(args)
}

/// Writes the config atomically with mode 0600, since it holds the client key and a (fake) JWT.
fn write_config(path: &str, upstream_url: &str, args: &Args) -> anyhow::Result<()> {
    let config = json!({
        "_comment": "written by examples/fake_upstream.rs for a test run",
        "jetbrains_tokens": [{"name": "agents-fake", "token": mint_jwt("agents-fake", Duration::from_secs(24 * 3600))}],
        "bearer_token": args.bearer,
        "upstream_url": upstream_url,
        "server_host": "127.0.0.1",
        "server_port": args.proxy_port,
        "watch_config": false,
    });
    let dir = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(serde_json::to_string_pretty(&config)?.as_bytes())?;
    file.persist(path)
        .with_context(|| format!("cannot write {path}"))?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let fake = FakeUpstream::start_on(
        std::net::SocketAddr::from(([127, 0, 0, 1], args.port)),
        FakeOptions {
            // A long agent session must not keep every request in memory or run out of fake quota.
            record_requests: false,
            spent_per_chat: 0.0,
            ..FakeOptions::default()
        },
    )
    .await
    .context("cannot start the fake upstream")?;
    if let Some(path) = &args.write_config {
        write_config(path, &fake.url(), &args)?;
    }
    println!("listening on {}", fake.url());
    std::io::stdout().flush()?;
    jbproxy::server::shutdown_signal().await;
    fake.shutdown();
    Ok(())
}
