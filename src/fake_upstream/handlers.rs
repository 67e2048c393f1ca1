//! Routing and answering: one handler reads the whole request, decides the answer synchronously (so it can be
//! recorded with its status before any delay), then carries it out.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::{JWT_HEADER, identify, mint_jwt};
use super::behaviour::{Behaviour, error_reply, quota_exhausted_status, text_error};
use super::profiles::{Profiles, default_answer};
use super::reply::{ReplyInput, chat_frames};
use super::stream::{ActiveGuard, Timing, timed_body};
use super::validate::{ApiVersion, validate_chat};
use super::{RecordedRequest, Shared, lock};

/// Larger than any legitimate body, so only a runaway gets 413: the proxy's own limit is 32 MiB, and the upstream
/// body it builds from one is a little larger (the memory benchmark sends 32 MB of tiny messages).
const MAX_BODY: usize = 64 * 1024 * 1024;

enum Route {
    Chat(ApiVersion),
    Quota,
    Profiles,
    Refresh,
    OAuth,
    NotFound,
}

fn route(method: &Method, path: &str) -> Route {
    if method == Method::GET && path == "/user/v5/llm/profiles/v8" {
        return Route::Profiles;
    }
    if method != Method::POST {
        return Route::NotFound;
    }
    match path {
        "/user/v5/llm/chat/stream/v8" | "/user/v5/llm/responses/stream/v8" => {
            Route::Chat(ApiVersion::V8)
        }
        "/user/v5/llm/chat/stream/v7" => Route::Chat(ApiVersion::V7),
        "/user/v5/quota/get" => Route::Quota,
        "/auth/jetbrains-jwt/provide-access/license/v2" => Route::Refresh,
        "/oauth2/token" => Route::OAuth,
        _ => Route::NotFound,
    }
}

/// The decided answer.
enum Action {
    /// Send `response` after `delay` (zero for at once).
    Reply { delay: Duration, response: Response },
    /// Never answer; `_guard` keeps a hanging chat counted as active.
    Hang { _guard: Option<ActiveGuard> },
}

struct Outcome {
    token_name: Option<String>,
    action: Action,
    /// What to record as the body instead of the JSON received (a form, its secret shown by fingerprint).
    recorded: Option<Value>,
}

impl Outcome {
    fn now(token_name: Option<String>, response: Response) -> Self {
        Outcome {
            token_name,
            action: Action::Reply {
                delay: Duration::ZERO,
                response,
            },
            recorded: None,
        }
    }
}

pub(super) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let route = route(&parts.method, parts.uri.path());
    let (json, outcome) = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            // Parsed once, for the checks and the record.
            let json = serde_json::from_slice::<Value>(&bytes).ok();
            let outcome = match route {
                Route::Chat(version) => chat(&shared, &parts.headers, json.as_ref(), version),
                Route::Quota => quota(&shared, &parts.headers, bytes.is_empty(), json.as_ref()),
                Route::Profiles => profiles(&shared, &parts.headers),
                Route::Refresh => refresh(&shared, &parts.headers, json.as_ref()),
                Route::OAuth => {
                    let answer = super::oauth::token(&shared, &parts.headers, &bytes);
                    Outcome {
                        recorded: Some(answer.recorded),
                        ..Outcome::now(answer.token_name, answer.response)
                    }
                }
                Route::NotFound => {
                    Outcome::now(None, text_error(StatusCode::NOT_FOUND, "no such endpoint"))
                }
            };
            (json, outcome)
        }
        Err(_) => {
            let reply = text_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large or unreadable",
            );
            (None, Outcome::now(None, reply))
        }
    };
    let status = match &outcome.action {
        Action::Reply { response, .. } => response.status().as_u16(),
        Action::Hang { .. } => 0,
    };
    if shared.options.record_requests {
        let mut headers = parts.headers;
        for name in [JWT_HEADER, header::AUTHORIZATION.as_str()] {
            if let Some(value) = headers.get_mut(name) {
                value.set_sensitive(true);
            }
        }
        let recorded = RecordedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            token_name: outcome.token_name,
            headers,
            body: outcome.recorded.or(json).unwrap_or(Value::Null),
            status,
        };
        lock(&shared.log).push(recorded);
    }
    match outcome.action {
        Action::Reply { delay, response } => {
            if !delay.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shared.cancel.cancelled() => {}
                }
            }
            response
        }
        Action::Hang { _guard } => {
            shared.cancel.cancelled().await;
            text_error(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
        }
    }
}

fn chat(
    shared: &Shared,
    headers: &HeaderMap,
    json: Option<&Value>,
    version: ApiVersion,
) -> Outcome {
    let name = match identify(headers) {
        Ok(name) => name,
        Err(failure) => {
            if let Some(name) = &failure.name {
                count_chat(shared, name);
            }
            return Outcome::now(
                failure.name,
                text_error(StatusCode::UNAUTHORIZED, failure.message),
            );
        }
    };
    count_chat(shared, &name);
    let bad = |message: &str| {
        Outcome::now(
            Some(name.clone()),
            text_error(StatusCode::BAD_REQUEST, message),
        )
    };
    if let Err(message) = check_agent(headers) {
        return bad(message);
    }
    let behaviour = shared.behaviour(&name);
    // Authentication precedes body checks upstream; every other behaviour applies only to a valid body.
    let jwt = headers
        .get(JWT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if behaviour == Behaviour::Unauthorized
        && let Some(reply) = error_reply(&behaviour, jwt)
    {
        return Outcome::now(Some(name), reply);
    }
    if !header_contains(headers, header::CONTENT_TYPE, "application/json") {
        return bad("Content-Type must be application/json");
    }
    // No Accept check: JetBrains' own client sends none (docs/UPSTREAM.md "Hosts, paths, headers").
    let Some(body) = json else {
        return bad("body is not JSON");
    };
    let summary = match validate_chat(body, version, &shared.options.profiles) {
        Ok(summary) => summary,
        Err(message) => return bad(&message),
    };
    if let Some(reply) = error_reply(&behaviour, jwt) {
        return Outcome::now(Some(name), reply);
    }
    let guard = ActiveGuard::new(&shared.active);
    if let Behaviour::RawStream(sse) = &behaviour {
        let body = timed_body(
            vec![Bytes::from(sse.clone())],
            Timing::default(),
            Some(guard),
            shared.cancel.clone(),
        );
        let response = (
            [
                (header::CONTENT_TYPE, "text/event-stream"),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            body,
        )
            .into_response();
        return Outcome::now(Some(name), response);
    }
    if behaviour == Behaviour::Hang {
        return Outcome {
            token_name: Some(name),
            action: Action::Hang {
                _guard: Some(guard),
            },
            recorded: None,
        };
    }
    let spent = shared.options.spent_per_chat;
    let quota_event = shared.quota_entry(&name, |quota| {
        if quota.exhausted() {
            return None;
        }
        quota.used = (quota.used + spent).min(quota.maximum);
        Some(quota.metadata_event(&name, spent))
    });
    let Some(quota_event) = quota_event else {
        return Outcome::now(
            Some(name),
            text_error(quota_exhausted_status(), "quota exhausted"),
        );
    };
    let frames = chat_frames(&ReplyInput {
        summary: &summary,
        content_events: shared.options.content_events,
        unknown_events: shared.options.unknown_events,
        demo_text: shared.options.demo_text.as_deref(),
        tool_serial: shared.tool_serial.fetch_add(1, Ordering::Relaxed),
        quota_event,
    });
    let (delay, timing) = timing_of(&behaviour, shared.options.event_delay);
    let body = timed_body(frames, timing, Some(guard), shared.cancel.clone());
    let response = (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response();
    Outcome {
        token_name: Some(name),
        action: Action::Reply { delay, response },
        recorded: None,
    }
}

/// Header delay and event timing of a behaviour that answers 200.
fn timing_of(behaviour: &Behaviour, event_delay: Duration) -> (Duration, Timing) {
    let mut timing = Timing {
        between: event_delay,
        ..Timing::default()
    };
    let mut delay = Duration::ZERO;
    match behaviour {
        Behaviour::SlowFirstByte(d) => timing.first_delay = *d,
        Behaviour::SlowHeaders(d) => delay = *d,
        Behaviour::PauseBetweenEvents(d) => timing.between = *d,
        Behaviour::CutMidStream { after_events } => timing.cut_after = Some(*after_events),
        Behaviour::KeepAlive {
            after_events,
            every,
        } => timing.keep_alive = Some((*after_events, *every)),
        _ => {}
    }
    (delay, timing)
}

fn count_chat(shared: &Shared, name: &str) {
    *lock(&shared.chat_counts)
        .entry(name.to_owned())
        .or_default() += 1;
}

fn quota(shared: &Shared, headers: &HeaderMap, empty_body: bool, json: Option<&Value>) -> Outcome {
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
fn profiles(shared: &Shared, headers: &HeaderMap) -> Outcome {
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

fn refresh(shared: &Shared, headers: &HeaderMap, json: Option<&Value>) -> Outcome {
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

/// `grazie-agent` must be present and hold a JSON object.
fn check_agent(headers: &HeaderMap) -> Result<(), &'static str> {
    let Some(value) = headers.get("grazie-agent") else {
        return Err("missing grazie-agent header");
    };
    match value.to_str().ok().map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(_))) => Ok(()),
        _ => Err("grazie-agent must be a JSON object"),
    }
}

fn header_contains(headers: &HeaderMap, name: header::HeaderName, wanted: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains(wanted))
}
