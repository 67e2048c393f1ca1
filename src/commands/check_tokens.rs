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
}

impl Verdict {
    pub fn failed(&self) -> bool {
        !matches!(self, Verdict::Ok | Verdict::Disabled | Verdict::NoJwtYet)
    }

    fn label(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Disabled => "disabled",
            Verdict::NoJwtYet => "no JWT yet",
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

/// Judges each token offline: JWT shape, expiry against `warn_within`, and duplicates of an earlier entry.
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
                let exp = token.expires_at();
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
            let exp = token.expires_at();
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

/// What `--online` learnt about one token.
struct Online {
    /// For a token with refresh credentials: whether its chain gave a JWT (else why not).
    refresh: Option<Result<(), String>>,
    /// What the quota endpoint said about the JWT (the refreshed one where there is one); `None` when the refresh
    /// failed, so there was no JWT to ask with.
    quota: Option<Result<QuotaInfo, UpstreamError>>,
    /// How many profiles `profiles/v8` listed; `None` when it was not asked (the JWT does not work) or failed.
    models: Option<usize>,
}

/// One online check per token: `None` where the offline verdict already settles it (disabled, malformed,
/// duplicate, or expired without refresh credentials).
type OnlineResult = Option<Online>;

/// Whether `--online` asks about a token with this offline verdict.
fn worth_asking(token: &TokenConfig, verdict: &Verdict) -> bool {
    match verdict {
        Verdict::Ok | Verdict::ExpiresSoon => true,
        Verdict::Expired | Verdict::NoJwtYet => token.can_refresh(),
        _ => false,
    }
}

/// Asks the upstream about every token worth asking, a few at a time, with a progress bar on a terminal.
fn check_online(
    config: &crate::config::Config,
    verdicts: &[Verdict],
) -> anyhow::Result<Vec<OnlineResult>> {
    use futures_util::StreamExt;
    let client = UpstreamClient::new(config)?;
    let needs_chain = config.tokens.iter().any(|t| t.refresh_token.is_some());
    // The state file is only opened when a chain will run: it is none of a plain check's business.
    let credentials = Credentials::open(match needs_chain {
        true => config.start_up.state_file.clone(),
        false => None,
    })?;
    let asked: Vec<usize> = verdicts
        .iter()
        .enumerate()
        .filter(|(i, v)| worth_asking(&config.tokens[*i], v))
        .map(|(i, _)| i)
        .collect();
    // Quiet in CI and pipes: the bar only where a person watches stderr.
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(asked.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message("asking JetBrains AI");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answers: Vec<(usize, Online)> = runtime.block_on(
        futures_util::stream::iter(asked)
            .map(|i| {
                let (client, bar, credentials) = (&client, &bar, &credentials);
                async move {
                    let answer = ask(client, credentials, &config.tokens[i]).await;
                    bar.inc(1);
                    (i, answer)
                }
            })
            .buffer_unordered(4)
            .collect(),
    );
    bar.finish_and_clear();
    let mut results: Vec<OnlineResult> = (0..verdicts.len()).map(|_| None).collect();
    for (i, answer) in answers {
        results[i] = Some(answer);
    }
    Ok(results)
}

/// Refreshes `token` when it can be (the whole chain), then asks the quota endpoint and `profiles/v8` with its JWT.
async fn ask(client: &UpstreamClient, credentials: &Credentials, token: &TokenConfig) -> Online {
    let (jwt, refresh) = if token.can_refresh() {
        match credentials.jwt(client, token).await {
            Ok(jwt) => (Some(jwt), Some(Ok(()))),
            Err(err) => (None, Some(Err(err.to_string()))),
        }
    } else {
        (Some(token.token.clone()), None)
    };
    let Some(jwt) = jwt else {
        return Online {
            refresh,
            quota: None,
            models: None,
        };
    };
    let quota = client.quota(jwt.expose_secret()).await;
    let models = match &quota {
        Ok(_) => client
            .profiles(jwt.expose_secret())
            .await
            .ok()
            .map(|p| p.len()),
        Err(_) => None,
    };
    Online {
        refresh,
        quota: Some(quota),
        models,
    }
}

/// Combines the offline verdict with what the upstream said. A refreshed JWT is fresh, so its offline expiry no
/// longer counts.
fn online_verdict(offline: &Verdict, online: &Online) -> Verdict {
    let base = match &online.refresh {
        Some(Err(why)) => return Verdict::RefreshFailed(why.clone()),
        Some(Ok(())) => Verdict::Ok,
        None => offline.clone(),
    };
    match &online.quota {
        None => base,
        Some(Ok(quota)) if quota.left <= 0.0 => Verdict::NoQuota,
        Some(Ok(_)) => base,
        Some(Err(UpstreamError::Unauthorized)) => Verdict::Rejected,
        Some(Err(UpstreamError::Forbidden { .. })) => Verdict::Forbidden,
        Some(Err(UpstreamError::Suspended(message))) => Verdict::Suspended(message.clone()),
        Some(Err(UpstreamError::QuotaExhausted)) => Verdict::NoQuota,
        Some(Err(err)) => Verdict::Unreachable(err.to_string()),
    }
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
        _ => match exp {
            Some(exp) if exp <= now => format!("expired {}", jwt::relative(exp, now)),
            Some(exp) => format!("expires {}", jwt::relative(exp, now)),
            None => "no exp claim".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(name: &str, text: &str) -> TokenConfig {
        TokenConfig::new(name, text)
    }

    #[test]
    fn an_entry_with_only_refresh_credentials_has_no_jwt_yet_and_does_not_fail() {
        let mut entry = token("a", "");
        entry.license_id = Some("lic".into());
        entry.refresh_token = Some(secrecy::SecretString::from("rt-0123456789"));
        let verdicts = judge(
            &[entry.clone()],
            "file",
            Duration::from_secs(86_400),
            SystemTime::now(),
        );
        assert!(matches!(verdicts[0], Verdict::NoJwtYet));
        assert!(!verdicts[0].failed());
        assert!(
            worth_asking(&entry, &verdicts[0]),
            "--online runs its chain"
        );
    }

    #[test]
    fn judges_shape_expiry_and_duplicates() {
        let now = SystemTime::now();
        let unix = |d: i64| crate::epoch::secs(now) + d;
        let good = crate::jwt::unsigned(&json!({ "exp": unix(7 * 86_400) }));
        let tokens = [
            token("good", &good),
            token("soon", &crate::jwt::unsigned(&json!({ "exp": unix(3600) }))),
            token("old", &crate::jwt::unsigned(&json!({ "exp": unix(-60) }))),
            token("junk", "not-a-jwt"),
            token("again", &good),
        ];
        let verdicts = judge(&tokens, "test", Duration::from_secs(86_400), now);
        assert_eq!(verdicts[0], Verdict::Ok);
        assert_eq!(verdicts[1], Verdict::ExpiresSoon);
        assert_eq!(verdicts[2], Verdict::Expired);
        assert!(matches!(verdicts[3], Verdict::Malformed(_)));
        assert_eq!(verdicts[4], Verdict::Duplicate("good".into()));
    }

    #[test]
    fn placeholders_are_named_as_such_and_never_duplicates() {
        let tokens = [
            token("Primary_JWT", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9..."),
            token("Secondary_JWT", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9..."),
        ];
        let verdicts = judge(&tokens, ".env (line 7)", Duration::ZERO, SystemTime::now());
        let placeholder = Verdict::Placeholder(".env (line 7)".into());
        assert_eq!(verdicts, [placeholder.clone(), placeholder.clone()]);
        assert!(placeholder.failed());
        assert_eq!(
            detail(&placeholder, None, SystemTime::now()),
            "placeholder value from .env (line 7); put your JetBrains AI JWT there"
        );
    }

    #[test]
    fn a_huge_warn_within_does_not_overflow_the_clock() {
        // Regression: `--warn-within 500000000000y` panicked adding the duration to now.
        let far = crate::jwt::unsigned(&json!({ "exp": 4_000_000_000_i64 }));
        let verdicts = judge(
            &[token("far", &far)],
            "test",
            Duration::MAX,
            SystemTime::now(),
        );
        assert_eq!(verdicts, [Verdict::ExpiresSoon]);
    }
}
