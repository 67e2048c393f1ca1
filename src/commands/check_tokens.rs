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
    // A huge `--warn-within` must not overflow the clock: `None` means "beyond any representable time".
    let soon = now.checked_add(warn_within);
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
                    Some(exp) if soon.is_none_or(|soon| exp <= soon) => Verdict::ExpiresSoon,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::tests::make_jwt;

    fn token(name: &str, text: &str) -> TokenConfig {
        TokenConfig {
            token: text.to_string().into(),
            name: name.into(),
            description: None,
            priority: 0,
            weight: 1,
            max_concurrency: None,
            metadata: Default::default(),
            enabled: true,
            license_id: None,
            authorization: None,
        }
    }

    #[test]
    fn judges_shape_expiry_and_duplicates() {
        let now = SystemTime::now();
        let unix = |d: i64| {
            now.duration_since(std::time::UNIX_EPOCH)
                .map(|n| n.as_secs() as i64 + d)
                .unwrap_or(0)
        };
        let good = make_jwt(&json!({ "exp": unix(7 * 86_400) }));
        let tokens = [
            token("good", &good),
            token("soon", &make_jwt(&json!({ "exp": unix(3600) }))),
            token("old", &make_jwt(&json!({ "exp": unix(-60) }))),
            token("junk", "not-a-jwt"),
            token("again", &good),
        ];
        let verdicts = judge(&tokens, Duration::from_secs(86_400), now);
        assert_eq!(verdicts[0], Verdict::Ok);
        assert_eq!(verdicts[1], Verdict::ExpiresSoon);
        assert_eq!(verdicts[2], Verdict::Expired);
        assert!(matches!(verdicts[3], Verdict::Malformed(_)));
        assert_eq!(verdicts[4], Verdict::Duplicate("good".into()));
    }

    #[test]
    fn a_huge_warn_within_does_not_overflow_the_clock() {
        // Regression: `--warn-within 500000000000y` panicked adding the duration to now.
        let far = make_jwt(&json!({ "exp": 4_000_000_000_i64 }));
        let verdicts = judge(&[token("far", &far)], Duration::MAX, SystemTime::now());
        assert_eq!(verdicts, [Verdict::ExpiresSoon]);
    }
}
