//! `check-tokens`: is every configured token usable? A table or JSON, and an exit code for CI. Offline by
//! default; `--online` also asks the upstream (through `UpstreamClient`; nothing it asks costs quota): a token with
//! refresh credentials is refreshed through its whole chain first (keeping a rotated refresh token in the state file,
//! as `serve` does), then the quota endpoint says whether the JWT works and what is left, and `profiles/v8` how many
//! models it can use.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use secrecy::ExposeSecret;
use serde_json::json;

use super::Context;
use crate::cli::CheckTokensArgs;
use crate::config::TokenConfig;
use crate::jwt::{self, DecodedJwt};
use crate::live::Credentials;
use crate::output;
use crate::pool::QuotaInfo;
use crate::upstream::{UpstreamClient, UpstreamError};

mod online;

use online::{Online, check_online, online_verdict};

/// The verdict on one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Disabled,
    Malformed(String),
    /// A value left from an example file; the text says where (`.env (line 5)`).
    Placeholder(String),
    Expired,
    ExpiresSoon,
    Duplicate(String),
    /// `--online`: the upstream refused the JWT (401).
    Rejected,
    /// `--online`: the upstream forbids this token for now (403).
    Forbidden,
    /// `--online`: the upstream says the licence is suspended (a 477 saying so); its message.
    Suspended(String),
    /// `--online`: the JWT works but its quota shows nothing left.
    NoQuota,
    /// `--online`: the check itself failed (network, 5xx, timeout, 429).
    Unreachable(String),
    /// `--online`: the token's refresh chain gave no JWT; why.
    RefreshFailed(String),
    /// No JWT in the config, only refresh credentials: jbproxy gets the JWT at start; `--online` tests the chain.
    NoJwtYet,
    /// The configured JWT has expired but the entry has refresh credentials: serve gets a new one at start, so this
    /// is no failure; `--online` tests the chain.
    Refreshable,
}

impl Verdict {
    pub fn failed(&self) -> bool {
        !matches!(
            self,
            Verdict::Ok | Verdict::Disabled | Verdict::NoJwtYet | Verdict::Refreshable
        )
    }

    fn label(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Disabled => "disabled",
            Verdict::NoJwtYet => "no JWT yet",
            Verdict::Refreshable => "refreshable",
            Verdict::Malformed(_) => "malformed",
            Verdict::Placeholder(_) => "placeholder",
            Verdict::Expired => "expired",
            Verdict::ExpiresSoon => "expires soon",
            Verdict::Duplicate(_) => "duplicate",
            Verdict::Rejected => "rejected",
            Verdict::Forbidden => "forbidden",
            Verdict::Suspended(_) => "suspended",
            Verdict::NoQuota => "no quota",
            Verdict::Unreachable(_) => "check failed",
            Verdict::RefreshFailed(_) => "refresh failed",
        }
    }
}

/// Judges each token offline: JWT shape, expiry against `warn_within` (an expired one that can be refreshed is no
/// failure: serve refreshes it), and duplicates of an earlier entry.
/// `origin` is where the tokens came from, to point at a placeholder; placeholders are all alike and so are not
/// reported as duplicates of each other.
pub fn judge(
    tokens: &[TokenConfig],
    origin: &str,
    warn_within: Duration,
    now: SystemTime,
) -> Vec<Verdict> {
    // A huge `--warn-within` must not overflow the clock: `None` means "beyond any representable time".
    let soon = now.checked_add(warn_within);
    let mut first_by_fingerprint: HashMap<String, &str> = HashMap::new();
    tokens
        .iter()
        .map(|token| {
            if crate::config::placeholder::is_placeholder(token.token.expose_secret()) {
                return Verdict::Placeholder(origin.to_string());
            }
            if let Some(first) = first_by_fingerprint.get(&token.fingerprint()) {
                return Verdict::Duplicate(first.to_string());
            }
            first_by_fingerprint.insert(token.fingerprint(), &token.name);
            if !token.enabled {
                return Verdict::Disabled;
            }
            if !token.has_jwt() {
                return Verdict::NoJwtYet;
            }
            match DecodedJwt::decode(token.token.expose_secret()) {
                Err(err) => Verdict::Malformed(err.to_string()),
                Ok(decoded) => match decoded.expires_at() {
                    Some(exp) if exp <= now && token.can_refresh() => Verdict::Refreshable,
                    Some(exp) if exp <= now => Verdict::Expired,
                    Some(exp) if soon.is_none_or(|soon| exp <= soon) => Verdict::ExpiresSoon,
                    _ => Verdict::Ok,
                },
            }
        })
        .collect()
}

pub fn run(ctx: &Context, args: CheckTokensArgs) -> anyhow::Result<ExitCode> {
    let flags = crate::cli::ConfigFlags {
        jwt_tokens: args.jwt_tokens.clone(),
        upstream_url: args.upstream_url.clone(),
        ..crate::cli::ConfigFlags::default()
    };
    let config = ctx.load_config(Some(&flags))?;
    // Token problems are the table's business; anything else the loader noticed (a misspelt variable, a
    // placeholder key) is said on stderr.
    super::print_warnings_except_tokens(&config);
    if config.tokens.is_empty() {
        anyhow::bail!(
            "no tokens configured; add them to jetbrains_tokens in the config file, JWT_TOKENS, or see `jbproxy generate-config`"
        );
    }
    let now = SystemTime::now();
    let origin = config.origin_of("jetbrains_tokens");
    let mut verdicts = judge(&config.tokens, &origin, args.warn_within, now);
    let online = if args.online {
        let results = check_online(&config, &verdicts)?;
        for (verdict, result) in verdicts.iter_mut().zip(&results) {
            if let Some(result) = result {
                *verdict = online_verdict(verdict, result);
            }
        }
        Some(results)
    } else {
        None
    };
    let failed = verdicts.iter().filter(|v| v.failed()).count();
    let healthy = verdicts.iter().filter(|v| **v == Verdict::Ok).count();
    let online_of = |i: usize| -> Option<&Online> { online.as_ref()?.get(i)?.as_ref() };
    let quota_of = |i: usize| -> Option<&QuotaInfo> { online_of(i)?.quota.as_ref()?.as_ref().ok() };
    let valid_of = |i: usize| -> Option<bool> {
        match online_of(i)?.quota.as_ref()? {
            Ok(_) => Some(true),
            Err(UpstreamError::Unauthorized | UpstreamError::Forbidden { .. }) => Some(false),
            Err(_) => None,
        }
    };
    let models_of = |i: usize| -> Option<usize> { online_of(i)?.models };
    // After a refresh, the JWT that counts is the new one.
    let expiry_of = |i: usize| -> Option<SystemTime> { online_of(i)?.refreshed_expiry };
    let refresh_of = |i: usize| -> Option<String> {
        online_of(i)?.refresh.as_ref().map(|r| match r {
            Ok(()) => "ok".to_string(),
            Err(why) => why.clone(),
        })
    };
    let any_refresh = online.is_some() && config.tokens.iter().any(|t| t.can_refresh());

    if args.json {
        let rows: Vec<_> = config
            .tokens
            .iter()
            .zip(&verdicts)
            .enumerate()
            .map(|(i, (token, verdict))| {
                let exp = expiry_of(i).or_else(|| token.expires_at());
                let mut row = json!({
                    "name": token.name,
                    "fingerprint": token.fingerprint(),
                    "status": verdict.label(),
                    "ok": !verdict.failed(),
                    "detail": detail(verdict, exp, now),
                    "expires_at": exp.map(jwt::rfc3339),
                });
                if online.is_some() {
                    row["valid"] = json!(valid_of(i));
                    row["quota"] = json!(quota_of(i).map(|q| json!({
                        "used": q.used,
                        "maximum": q.maximum,
                        "left": q.left,
                        "resets_at": q.until.map(jwt::rfc3339),
                    })));
                    row["models"] = json!(models_of(i));
                    row["refresh"] = json!(refresh_of(i));
                }
                row
            })
            .collect();
        let mut report = json!({"tokens": rows, "total": verdicts.len(), "failed": failed});
        if online.is_some() || args.min_healthy.is_some() {
            report["healthy"] = json!(healthy);
        }
        output::print_json(&report)?;
    } else {
        let mut headers = vec!["name", "fingerprint", "status", "expires"];
        if any_refresh {
            headers.push("refresh");
        }
        if online.is_some() {
            headers.extend(["valid", "quota left", "models"]);
        }
        headers.push("detail");
        let mut table = output::table(&headers);
        for (i, (token, verdict)) in config.tokens.iter().zip(&verdicts).enumerate() {
            let exp = expiry_of(i).or_else(|| token.expires_at());
            let mut row = vec![
                token.name.clone(),
                token.fingerprint(),
                verdict.label().to_string(),
                exp.map(jwt::rfc3339).unwrap_or_else(|| "-".into()),
            ];
            if any_refresh {
                row.push(match refresh_of(i) {
                    Some(r) if r == "ok" => "ok".into(),
                    Some(_) => "failed".into(),
                    None => "-".into(),
                });
            }
            if online.is_some() {
                row.push(match valid_of(i) {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "-".into(),
                });
                row.push(
                    quota_of(i)
                        .map(|q| format!("{} / {}", q.left, q.maximum))
                        .unwrap_or_else(|| "-".into()),
                );
                row.push(
                    models_of(i)
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "-".into()),
                );
            }
            row.push(detail(verdict, exp, now));
            table.add_row(row);
        }
        let mut summary = format!(
            "{table}\n{failed} of {} failed",
            output::count(verdicts.len(), "token")
        );
        if let Some(min) = args.min_healthy {
            summary.push_str(&format!("; {healthy} healthy (at least {min} required)"));
        }
        output::print(summary)?;
    }
    let passed = match args.min_healthy {
        Some(min) => healthy >= min,
        None => failed == 0,
    };
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn detail(verdict: &Verdict, exp: Option<SystemTime>, now: SystemTime) -> String {
    match verdict {
        Verdict::Malformed(why) => why.clone(),
        Verdict::Placeholder(origin) => format!(
            "{}; put your JetBrains AI JWT there",
            crate::config::placeholder::describe(origin)
        ),
        Verdict::Duplicate(first) => format!("same JWT as \"{first}\""),
        Verdict::Disabled => "enabled: false in the config".into(),
        Verdict::Rejected => "JetBrains AI refused this JWT (401); replace or refresh it".into(),
        Verdict::Forbidden => {
            "JetBrains AI forbids this token (403); jbproxy would rest it for 5 minutes".into()
        }
        Verdict::Suspended(message) => {
            format!("JetBrains AI says the licence is suspended: {message}")
        }
        Verdict::NoQuota => "no quota left until the reset".into(),
        Verdict::Unreachable(why) => why.clone(),
        Verdict::RefreshFailed(why) => format!("the JWT could not be refreshed: {why}"),
        Verdict::NoJwtYet => {
            "none in the config: serve gets it through the refresh chain at start (--online tests it)".into()
        }
        Verdict::Refreshable => match exp {
            Some(exp) => format!(
                "expired {}: serve gets a new JWT through the refresh chain at start (--online tests it)",
                jwt::relative(exp, now)
            ),
            None => "serve gets a new JWT through the refresh chain at start (--online tests it)".into(),
        },
        _ => match exp {
            Some(exp) if exp <= now => format!("expired {}", jwt::relative(exp, now)),
            Some(exp) => format!("expires {}", jwt::relative(exp, now)),
            None => "no exp claim".into(),
        },
    }
}

#[cfg(test)]
mod tests;
