//! `decode-jwt`: a JWT's header and claims, with its dates made readable. The signature is not verified.

use std::io::Read;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::Context;
use crate::cli::DecodeJwtArgs;
use crate::jwt::{self, DecodedJwt};
use crate::output;

const TIME_CLAIMS: [&str; 3] = ["exp", "iat", "nbf"];

pub fn run(ctx: &Context, args: DecodeJwtArgs) -> anyhow::Result<ExitCode> {
    let token = match (&args.token, &args.name) {
        (Some(t), _) if t == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the token from standard input")?;
            let text = text.trim().to_string();
            if text.is_empty() {
                anyhow::bail!(
                    "standard input was empty; pipe the JWT in, e.g. `echo \"$JWT\" | jbproxy decode-jwt -`"
                );
            }
            text
        }
        (Some(t), _) if t.trim().is_empty() => anyhow::bail!(
            "the TOKEN argument is empty; give the JWT (it starts with eyJ), `-` to read it from standard input, \
or --name NAME for a configured one"
        ),
        (Some(t), _) => t.trim().to_string(),
        (None, Some(name)) => {
            let config = ctx.load_config(None)?;
            let names: Vec<&str> = config.tokens.iter().map(|t| t.name.as_str()).collect();
            let token = config
                .tokens
                .iter()
                .find(|t| &t.name == name)
                .with_context(|| {
                    if names.is_empty() {
                        format!(
                            "no configured token is named \"{name}\": no tokens are configured (see `jbproxy print-config`)"
                        )
                    } else {
                        format!(
                            "no configured token is named \"{name}\"; configured names: {}",
                            names.join(", ")
                        )
                    }
                })?;
            if !token.has_jwt() {
                anyhow::bail!(
                    "token \"{name}\" has no JWT in the config: `jbproxy serve` gets one through its refresh chain at \
                     start (`jbproxy check-tokens --online` tests the chain)"
                );
            }
            token.token.expose_secret().to_string()
        }
        (None, None) => {
            anyhow::bail!("give a TOKEN, `-` to read it from standard input, or --name NAME")
        }
    };
    let decoded = DecodedJwt::decode(&token)
        .with_context(|| format!("cannot decode {}", crate::secret::fingerprint(&token)))?;
    let now = SystemTime::now();
    if args.json {
        let mut times = serde_json::Map::new();
        for claim in TIME_CLAIMS {
            if let Some(secs) = decoded.time_claim(claim) {
                let at = jwt::unix_to_system_time(secs);
                times.insert(claim.into(), json!({"unix": secs, "utc": jwt::rfc3339(at), "relative": jwt::relative(at, now)}));
            }
        }
        let expired = decoded.expires_at().map(|exp| exp <= now);
        output::print_json(&json!({
            "fingerprint": crate::secret::fingerprint(&token),
            "header": decoded.header,
            "claims": decoded.claims,
            "times": times,
            "expired": expired,
            "signature_verified": false,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "token: {} (signature not verified)\n\nheader:\n",
        crate::secret::fingerprint(&token)
    );
    for (key, value) in &decoded.header {
        text.push_str(&format!("  {key}: {}\n", show(value)));
    }
    text.push_str("\nclaims:\n");
    for (key, value) in &decoded.claims {
        let shown = match decoded
            .time_claim(key)
            .filter(|_| TIME_CLAIMS.contains(&key.as_str()))
        {
            Some(secs) => {
                let at = jwt::unix_to_system_time(secs);
                format!("{secs} ({}, {})", jwt::rfc3339(at), jwt::relative(at, now))
            }
            None => show(value),
        };
        text.push_str(&format!("  {key}: {shown}\n"));
    }
    text.push_str(&match decoded.expires_at() {
        Some(exp) if exp <= now => format!("\nstatus: EXPIRED {}\n", jwt::relative(exp, now)),
        Some(exp) => format!("\nstatus: valid, expires {}\n", jwt::relative(exp, now)),
        None => "\nstatus: no exp claim; jbproxy cannot tell when it expires\n".to_string(),
    });
    output::print(text.trim_end())?;
    Ok(ExitCode::SUCCESS)
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
