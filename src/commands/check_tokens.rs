//! `check-tokens`: is every configured token usable? A table or JSON, and an exit code for CI.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use secrecy::ExposeSecret;
use serde_json::json;

use super::Context;
use crate::cli::CheckTokensArgs;
use crate::config::TokenConfig;
use crate::jwt::{self, DecodedJwt};
use crate::output;

/// The verdict on one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    Disabled,
    Malformed(String),
    Expired,
    ExpiresSoon,
    Duplicate(String),
}

impl Verdict {
    pub fn failed(&self) -> bool {
        !matches!(self, Verdict::Ok | Verdict::Disabled)
    }

    fn label(&self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Disabled => "disabled",
            Verdict::Malformed(_) => "malformed",
            Verdict::Expired => "expired",
            Verdict::ExpiresSoon => "expires soon",
            Verdict::Duplicate(_) => "duplicate",
        }
    }
}

/// Judges each token offline: JWT shape, expiry against `warn_within`, and duplicates of an earlier entry.
pub fn judge(tokens: &[TokenConfig], warn_within: Duration, now: SystemTime) -> Vec<Verdict> {
    let mut first_by_fingerprint: HashMap<String, &str> = HashMap::new();
    tokens
        .iter()
        .map(|token| {
            if let Some(first) = first_by_fingerprint.get(&token.fingerprint()) {
                return Verdict::Duplicate(first.to_string());
            }
            first_by_fingerprint.insert(token.fingerprint(), &token.name);
            if !token.enabled {
                return Verdict::Disabled;
            }
            match DecodedJwt::decode(token.token.expose_secret()) {
                Err(err) => Verdict::Malformed(err.to_string()),
                Ok(decoded) => match decoded.expires_at() {
                    Some(exp) if exp <= now => Verdict::Expired,
                    Some(exp) if exp <= now + warn_within => Verdict::ExpiresSoon,
                    _ => Verdict::Ok,
                },
            }
        })
        .collect()
}

pub fn run(ctx: &Context, args: CheckTokensArgs) -> anyhow::Result<ExitCode> {
    let config = ctx.load_config(None)?;
    if config.tokens.is_empty() {
        anyhow::bail!(
            "no tokens configured; add them to jetbrains_tokens in the config file, JWT_TOKENS, or see `jbproxy generate-config`"
        );
    }
    let now = SystemTime::now();
    let verdicts = judge(&config.tokens, args.warn_within, now);
    let failed = verdicts.iter().filter(|v| v.failed()).count();

    if args.json {
        let rows: Vec<_> = config
            .tokens
            .iter()
            .zip(&verdicts)
            .map(|(token, verdict)| {
                let exp = token.expires_at();
                json!({
                    "name": token.name,
                    "fingerprint": token.fingerprint(),
                    "status": verdict.label(),
                    "ok": !verdict.failed(),
                    "detail": detail(verdict, exp, now),
                    "expires_at": exp.map(jwt::rfc3339),
                })
            })
            .collect();
        output::print_json(&json!({"tokens": rows, "total": verdicts.len(), "failed": failed}))?;
    } else {
        let mut table = output::table(&["name", "fingerprint", "status", "expires", "detail"]);
        for (token, verdict) in config.tokens.iter().zip(&verdicts) {
            let exp = token.expires_at();
            table.add_row([
                token.name.clone(),
                token.fingerprint(),
                verdict.label().to_string(),
                exp.map(jwt::rfc3339).unwrap_or_else(|| "-".into()),
                detail(verdict, exp, now),
            ]);
        }
        output::print(format!(
            "{table}\n{} of {} tokens failed",
            failed,
            verdicts.len()
        ))?;
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn detail(verdict: &Verdict, exp: Option<SystemTime>, now: SystemTime) -> String {
    match verdict {
        Verdict::Malformed(why) => why.clone(),
        Verdict::Duplicate(first) => format!("same JWT as \"{first}\""),
        Verdict::Disabled => "enabled: false in the config".into(),
        _ => match exp {
            Some(exp) if exp <= now => format!("expired {}", jwt::relative(exp, now)),
            Some(exp) => format!("expires {}", jwt::relative(exp, now)),
            None => "no exp claim".into(),
        },
    }
}
