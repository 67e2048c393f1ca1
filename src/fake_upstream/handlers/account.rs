//! The fake's account endpoints: `quota/get`, `profiles/v8`, and the JWT refresh (`provide-access/license/v2`).

use super::*;

pub(super) fn quota(
    shared: &Shared,
    headers: &HeaderMap,
    empty_body: bool,
    json: Option<&Value>,
) -> Outcome {
    let name = match identify(headers) {
        Ok(name) => name,
        Err(failure) => {
            return Outcome::now(
                failure.name,
                text_error(StatusCode::UNAUTHORIZED, failure.message),
            );
        }
    };
    let bad = |message: &str| {
        Outcome::now(
            Some(name.clone()),
            text_error(StatusCode::BAD_REQUEST, message),
        )
    };
    if let Err(message) = check_agent(headers) {
        return bad(message);
    }
    // The proxy sends an empty body; `{}` is what another client sends and the service takes both.
    let empty = empty_body || matches!(json, Some(Value::Object(m)) if m.is_empty());
    if !empty {
        return bad("quota/get takes an empty body");
    }
    let behaviour = shared.behaviour(&name);
    let jwt = headers
        .get(JWT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if behaviour != Behaviour::QuotaExhausted
        && let Some(reply) = error_reply(&behaviour, jwt)
    {
        return Outcome::now(Some(name), reply);
    }
    if behaviour == Behaviour::Hang {
        return Outcome {
            token_name: Some(name),
            action: Action::Hang { _guard: None },
            recorded: None,
        };
    }
    let mut quota = shared.quota_entry(&name, |quota| *quota);
    if behaviour == Behaviour::QuotaExhausted {
        quota = quota.shown_exhausted();
    }
    let body = quota.get_reply().to_string();
    let (delay, mut timing) = timing_of(&behaviour, Duration::ZERO);
    timing.between = Duration::ZERO;
    timing.keep_alive = None;
    let frames = match behaviour {
        // Half a JSON document, then a broken connection.
        Behaviour::CutMidStream { .. } => {
            timing.cut_after = Some(1);
            let (head, tail) = body.split_at(body.len() / 2);
            vec![
                Bytes::copy_from_slice(head.as_bytes()),
                Bytes::copy_from_slice(tail.as_bytes()),
            ]
        }
        _ => vec![Bytes::from(body)],
    };
    let response = (
        [(header::CONTENT_TYPE, "application/json")],
        timed_body(frames, timing, None, shared.cancel.clone()),
    )
        .into_response();
    Outcome {
        token_name: Some(name),
        action: Action::Reply { delay, response },
        recorded: None,
    }
}

/// `profiles/v8`: the JWT and `grazie-agent` checks of every call, the token's error behaviours (a token out of
/// quota still lists its profiles), then its answer.
pub(super) fn profiles(shared: &Shared, headers: &HeaderMap) -> Outcome {
    let name = match identify(headers) {
        Ok(name) => name,
        Err(failure) => {
            return Outcome::now(
                failure.name,
                text_error(StatusCode::UNAUTHORIZED, failure.message),
            );
        }
    };
    if let Err(message) = check_agent(headers) {
        return Outcome::now(Some(name), text_error(StatusCode::BAD_REQUEST, message));
    }
    let behaviour = shared.behaviour(&name);
    let jwt = headers
        .get(JWT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if behaviour != Behaviour::QuotaExhausted
        && let Some(reply) = error_reply(&behaviour, jwt)
    {
        return Outcome::now(Some(name), reply);
    }
    let answer = lock(&shared.profiles).get(&name).cloned();
    let response = match answer {
        Some(Profiles::Fail(status)) => text_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "profiles unavailable",
        ),
        Some(Profiles::Answer(body)) => axum::Json(body).into_response(),
        None => axum::Json(default_answer().clone()).into_response(),
    };
    Outcome::now(Some(name), response)
}

pub(super) fn refresh(shared: &Shared, headers: &HeaderMap, json: Option<&Value>) -> Outcome {
    let unauthorized = |message| Outcome::now(None, text_error(StatusCode::UNAUTHORIZED, message));
    let bad = |message| Outcome::now(None, text_error(StatusCode::BAD_REQUEST, message));
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(id_token) = bearer.filter(|t| !t.is_empty()) else {
        return unauthorized("authorization must be Bearer <id token>");
    };
    if !header_contains(headers, header::CONTENT_TYPE, "application/json") {
        return bad("Content-Type must be application/json");
    }
    let license_id = match json {
        Some(Value::Object(body)) if body.len() == 1 => match body.get("licenseId") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            _ => return bad("body must be {\"licenseId\": \"<non-empty string>\"}"),
        },
        _ => return bad("body must be {\"licenseId\": \"<non-empty string>\"}"),
    };
    let token_name = match lock(&shared.licenses).get(&license_id) {
        None => return unauthorized("unknown license"),
        Some(license) if !license.id_tokens.iter().any(|t| t == id_token) => {
            return unauthorized("ID token does not match the license");
        }
        Some(license) => license.token_name.clone(),
    };
    // The ID tokens the OAuth endpoint mints expire (a fixed one registered by a test need not be a JWT at all).
    let expired = crate::jwt::DecodedJwt::decode(id_token)
        .ok()
        .and_then(|jwt| jwt.time_claim("exp"))
        .is_some_and(|exp| exp <= crate::epoch::now_secs());
    if expired {
        return unauthorized("ID token expired");
    }
    // A fresh JWT clears whatever made the old one fail, so a 401 token recovers by refreshing.
    lock(&shared.behaviours).remove(&token_name);
    let token = mint_jwt(&token_name, Duration::from_secs(24 * 3600));
    lock(&shared.issued).push(token.clone());
    Outcome::now(
        Some(token_name),
        (
            StatusCode::OK,
            axum::Json(json!({"state": "PAID", "token": token})),
        )
            .into_response(),
    )
}
