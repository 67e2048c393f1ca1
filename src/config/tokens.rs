//! `jetbrains_tokens`, the one key loaded by hand: a list in the file, a comma-separated text in `JWT_TOKENS` (or
//! the older `JWT_TOKEN`) and `--jwt-tokens`, each entry checked with the place to fix it; and the warnings for
//! tokens that will not work as they stand.

use std::collections::BTreeMap;
use std::time::SystemTime;

use secrecy::{ExposeSecret, SecretString};

use super::file::FileToken;
use super::layers::{Layers, Overrides};
use super::{ConfigError, Env, Source, TokenConfig};

/// The tokens from the highest layer that has any.
pub(super) fn pick(
    layers: &mut Layers,
    from_file: Option<Vec<FileToken>>,
    overrides: &Overrides,
    env: &Env,
) -> Result<Vec<TokenConfig>, ConfigError> {
    let listed = |list: &str| -> Vec<FileToken> {
        list.split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| FileToken {
                token: Some(t.to_string()),
                ..FileToken::default()
            })
            .collect()
    };
    let env_tokens = env
        .get("JWT_TOKENS")
        .or_else(|| env.get("JWT_TOKEN"))
        .map(|(name, list)| (name, listed(list)));
    let flag_tokens = overrides
        .jwt_tokens
        .as_deref()
        .map(|list| ("--jwt-tokens", listed(list)));
    let chosen = layers.pick(
        "jetbrains_tokens",
        Vec::new(),
        from_file,
        env_tokens,
        flag_tokens,
    );
    let origin = layers
        .sources
        .get("jetbrains_tokens")
        .cloned()
        .unwrap_or(Source::Default);
    resolve(chosen, &origin)
}

fn resolve(raw: Vec<FileToken>, origin: &Source) -> Result<Vec<TokenConfig>, ConfigError> {
    let mut seen_names = BTreeMap::new();
    let mut tokens = Vec::with_capacity(raw.len());
    for (i, entry) in raw.into_iter().enumerate() {
        let at = format!("{origin}: jetbrains_tokens[{i}]");
        let license_id = entry.license_id.map(|l| l.trim().to_string());
        let refreshable = license_id.is_some()
            && (entry.refresh_token.is_some() || entry.authorization.is_some());
        // An entry that can refresh needs no JWT to start with: jbproxy gets one at start. Its empty text stands for
        // "no JWT yet" (expired, so nothing is sent with it).
        let token = match entry.token.map(|t| t.trim().to_string()) {
            Some(t) if !t.is_empty() => t,
            _ if refreshable => String::new(),
            _ => {
                return Err(ConfigError::invalid(
                    &at,
                    "`token` is missing or empty; put the JetBrains AI JWT there (or give `license_id` with \
                     `refresh_token` and jbproxy gets the JWT itself)",
                ));
            }
        };
        let name = entry
            .name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("token-{}", i + 1));
        if let Some(first) = seen_names.insert(name.clone(), i) {
            return Err(ConfigError::invalid(
                &at,
                format!(
                    "name \"{name}\" is already used by jetbrains_tokens[{first}]; every token needs its own name"
                ),
            ));
        }
        let weight = entry.weight.unwrap_or(1);
        if weight == 0 {
            return Err(ConfigError::invalid(
                &at,
                "`weight` must be at least 1 (use `enabled: false` to take a token out)",
            ));
        }
        if entry.max_concurrency == Some(0) {
            return Err(ConfigError::invalid(
                &at,
                "`max_concurrency` must be at least 1 (leave it out for no limit)",
            ));
        }
        let authorization = entry
            .authorization
            .map(|a| without_bearer_scheme(&a).to_string());
        let refresh_token = entry.refresh_token.map(|r| r.trim().to_string());
        check_refresh_keys(
            &at,
            license_id.as_deref(),
            authorization.as_deref(),
            refresh_token.as_deref(),
        )?;
        tokens.push(TokenConfig {
            token: SecretString::from(token),
            name,
            description: entry.description,
            priority: entry.priority.unwrap_or(0),
            weight,
            max_concurrency: entry.max_concurrency,
            metadata: entry.metadata.unwrap_or_default(),
            enabled: entry.enabled.unwrap_or(true),
            license_id,
            authorization: authorization.map(SecretString::from),
            refresh_token: refresh_token.map(SecretString::from),
        });
    }
    Ok(tokens)
}

/// An `authorization` value as the header would carry it (`Bearer <ID token>`), down to the ID token. The scheme is
/// named in any case (RFC 9110 §11.1), so `bearer …` and `BEARER …` are stripped too.
fn without_bearer_scheme(value: &str) -> &str {
    let value = value.trim();
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        _ => value,
    }
}

/// The refresh credentials of one entry: `license_id` with either `refresh_token` (the chain that lasts) or
/// `authorization` (a fixed ID token, about an hour), or none of them.
fn check_refresh_keys(
    at: &str,
    license_id: Option<&str>,
    authorization: Option<&str>,
    refresh_token: Option<&str>,
) -> Result<(), ConfigError> {
    let message = match (license_id, authorization, refresh_token) {
        (_, Some(""), _) | (_, _, Some("")) | (Some(""), _, _) => {
            "`license_id`, `authorization` and `refresh_token` must not be empty; remove the key instead"
        }
        (Some(_), Some(_), Some(_)) => {
            "give `refresh_token` or `authorization`, not both: the refresh token makes its own ID tokens (remove \
             `authorization`)"
        }
        (Some(_), None, None) => {
            "`license_id` needs `refresh_token` (lasts: jbproxy renews the JWT for as long as the account keeps \
             the refresh token) or `authorization` (an ID token, good for about an hour) to refresh the JWT; set \
             one of them, or remove `license_id`"
        }
        (None, Some(_), _) => {
            "`license_id` and `authorization` go together: both are needed to refresh the JWT; set both or neither"
        }
        (None, None, Some(_)) => {
            "`refresh_token` needs `license_id` (the JetBrains AI licence the JWT is issued for); set both or \
             neither"
        }
        _ => return Ok(()),
    };
    Err(ConfigError::invalid(at, message))
}

/// A load-time warning for a token that will not work as it stands; it does not stop loading. `origin` says where
/// the token came from, for a placeholder left in an example file.
pub(crate) fn warning(token: &TokenConfig, origin: &str, now: SystemTime) -> Option<String> {
    let text = token.token.expose_secret();
    if !token.has_jwt() {
        return None;
    }
    if super::placeholder::is_placeholder(text) {
        return Some(format!(
            "token {}: {}; put your JetBrains AI JWT there",
            token.label(),
            super::placeholder::describe(origin)
        ));
    }
    match crate::jwt::DecodedJwt::decode(text) {
        Err(err) => Some(format!("token {}: {err}", token.label())),
        Ok(jwt) => match jwt.expires_at() {
            Some(exp) if exp <= now && !token.can_refresh() => Some(format!(
                "token {} expired {} ({}); replace it or add license_id and refresh_token so jbproxy can refresh it",
                token.label(),
                crate::jwt::relative(exp, now),
                crate::jwt::rfc3339(exp)
            )),
            _ => None,
        },
    }
}
