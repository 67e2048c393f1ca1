//! `stats`: a running server's token pool and counters, read from its `/stats` endpoint, as tables or JSON.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::Value;

use super::Context;
use crate::admin_client;
use crate::cli::StatsArgs;
use crate::output;

pub fn run(ctx: &Context, args: StatsArgs) -> anyhow::Result<ExitCode> {
    // The config only supplies defaults here; without one, --url and --token must be given.
    let config = ctx.load_config(None).ok();
    let url = args
        .url
        .as_deref()
        .map(with_scheme)
        .or_else(|| config.as_ref().map(admin_client::default_url))
        .unwrap_or_else(|| "http://127.0.0.1:8080".to_string());
    let key = args.token.clone().or_else(|| {
        let config = config.as_ref()?;
        config
            .admin_token
            .as_ref()
            .or(config.bearer_token.as_ref())
            .map(|k| k.expose_secret().to_string())
    });
    // Refreshing in place means clearing the screen: only where a person watches. A pipe or a file gets each
    // refresh after the last, with no control codes.
    let clear_screen = std::io::stdout().is_terminal();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let show = async {
        let mut first = true;
        loop {
            let stats = if args.cluster {
                admin_client::fetch_cluster_stats(&url, key.as_deref()).await?
            } else {
                admin_client::fetch_stats(&url, key.as_deref()).await?
            };
            if args.json {
                output::print_json(&stats)?;
            } else {
                let text = if args.cluster {
                    render_cluster(&stats)
                } else {
                    render(&stats, &url)
                };
                match (args.watch.is_some(), clear_screen, first) {
                    (true, true, _) => output::print(format!("\x1b[2J\x1b[H{text}"))?,
                    (true, false, false) => output::print(format!("\n{text}"))?,
                    _ => output::print(text)?,
                }
            }
            first = false;
            match args.watch {
                Some(every) => tokio::time::sleep(every.max(Duration::from_millis(100))).await,
                None => return Ok::<_, anyhow::Error>(()),
            }
        }
    };
    runtime.block_on(async {
        tokio::select! {
            shown = show => shown,
            // Ctrl-C is how --watch is meant to end, so it is a success.
            _ = tokio::signal::ctrl_c(), if args.watch.is_some() => Ok(()),
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `127.0.0.1:8080` means `http://127.0.0.1:8080`: the server speaks plain HTTP.
fn with_scheme(url: &str) -> String {
    if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    }
}

fn render(stats: &Value, url: &str) -> String {
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let totals = &stats["totals"];
    let mut summary = output::table(&[
        "server",
        "strategy",
        "uptime",
        "usable / tokens",
        "requests",
        "in flight",
    ]);
    summary.add_row([
        url.to_string(),
        s(&stats["strategy"]),
        crate::jwt::short_duration(Duration::from_secs(
            stats["uptime_secs"].as_u64().unwrap_or(0),
        )),
        format!("{} / {}", s(&totals["usable"]), s(&totals["tokens"])),
        s(&totals["requests"]),
        s(&totals["inflight"]),
    ]);
    let mut tokens = output::table(&[
        "name",
        "fingerprint",
        "state",
        "reason",
        "until",
        "requests",
        "failures",
        "in flight",
        "avg ms",
        "quota left",
        "expires in",
        "last check",
    ]);
    for t in stats["tokens"].as_array().into_iter().flatten() {
        let failures: u64 = t["failures"]
            .as_object()
            .map(|m| m.values().filter_map(Value::as_u64).sum())
            .unwrap_or(0);
        let quota = quota_left(t);
        let expires = t["expires_in_secs"]
            .as_i64()
            .map(|secs| {
                if secs <= 0 {
                    "expired".to_string()
                } else {
                    crate::jwt::short_duration(Duration::from_secs(secs as u64))
                }
            })
            .unwrap_or_else(|| "-".into());
        tokens.add_row([
            s(&t["name"]),
            s(&t["fingerprint"]),
            s(&t["state"]),
            s(&t["reason"]),
            s(&t["until"]),
            s(&t["requests"]),
            failures.to_string(),
            s(&t["inflight"]),
            t["avg_latency_ms"]
                .as_f64()
                .map(|ms| format!("{ms:.1}"))
                .unwrap_or_else(|| "-".into()),
            quota,
            expires,
            last_check(&t["last_check"]),
        ]);
    }
    let served = stats["model_fallback"]["served"].as_array();
    let Some(served) = served.filter(|list| !list.is_empty()) else {
        return format!("{summary}\n{tokens}");
    };
    // Ids newer than the model table, and which profile serves them: what a surprising answer is traced back to.
    let mut fallback = output::table(&["model (fallback)", "served by", "pattern", "uses"]);
    for m in served {
        fallback.add_row([
            s(&m["model"]),
            s(&m["profile"]),
            s(&m["pattern"]),
            s(&m["uses"]),
        ]);
    }
    format!("{summary}\n{tokens}\n{fallback}")
}

/// The cluster view: the replicas, then each token merged over them.
fn render_cluster(stats: &Value) -> String {
    let s = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut replicas = output::table(&["replica", "address", "last seen", "in flight"]);
    for r in stats["replicas"].as_array().into_iter().flatten() {
        let mut id = s(&r["id"]);
        if r["this"] == true {
            id.push_str(" (answered)");
        }
        let ago = r["last_seen_ms_ago"].as_u64().unwrap_or(0);
        replicas.add_row([
            id,
            s(&r["address"]),
            format!("{:.1}s ago", ago as f64 / 1000.0),
            s(&r["inflight"]),
        ]);
    }
    let mut tokens = output::table(&[
        "name",
        "fingerprint",
        "state",
        "until",
        "requests",
        "successes",
        "failures",
        "in flight",
        "replicas",
        "quota left",
    ]);
    for t in stats["tokens"].as_array().into_iter().flatten() {
        tokens.add_row([
            s(&t["name"]),
            s(&t["fingerprint"]),
            s(&t["state"]),
            s(&t["until"]),
            s(&t["requests"]),
            s(&t["successes"]),
            s(&t["failures"]),
            s(&t["inflight"]),
            s(&t["replicas"]),
            quota_left(t),
        ]);
    }
    format!("{replicas}\n{tokens}")
}

/// A token's quota as `left / maximum`, `-` while unknown.
fn quota_left(t: &Value) -> String {
    match (&t["quota"]["left"], &t["quota"]["maximum"]) {
        (Value::Number(left), Value::Number(max)) => format!("{left} / {max}"),
        _ => "-".into(),
    }
}

/// A token's last active check: "ok", or what failed and why ("unreachable: cannot connect to upstream: …").
fn last_check(check: &Value) -> String {
    match (check["result"].as_str(), check["error"].as_str()) {
        (None, _) => "-".into(),
        (Some(result), None) => result.to_string(),
        (Some(result), Some(error)) => format!("{result}: {error}"),
    }
}
