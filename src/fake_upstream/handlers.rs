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
use crate::models::native::Family;

/// Larger than any legitimate body, so only a runaway gets 413: the proxy's own limit is 32 MiB, and the upstream
/// body it builds from one is a little larger (the memory benchmark sends 32 MB of tiny messages).
const MAX_BODY: usize = 64 * 1024 * 1024;

mod account;
mod native;

use account::{profiles, quota, refresh};

enum Route {
    Chat(ApiVersion),
    Quota,
    Profiles,
    Refresh,
    OAuth,
    Native(Family),
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
        "/user/v5/llm/anthropic/v1/messages" => Route::Native(Family::Anthropic),
        "/user/v5/llm/openai/v1/chat/completions" => Route::Native(Family::OpenAi),
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
                Route::Refresh => {
                    let mut outcome = refresh(&shared, &parts.headers, json.as_ref());
                    if let Action::Reply { delay, .. } = &mut outcome.action {
                        *delay = *lock(&shared.refresh_delay);
                    }
                    outcome
                }
                Route::Native(family) => {
                    native::chat(&shared, &parts.headers, json.as_ref(), family)
                }
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
            version: parts.version,
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

/// What a chat request (v8 or a native route) has once the checks every route makes in the same order have passed:
/// the token's name, its behaviour, the JWT as sent and the JSON body.
struct Admitted<'a> {
    name: String,
    behaviour: Behaviour,
    jwt: &'a str,
    body: &'a Value,
}

/// The checks every chat route makes before reading its body: the JWT (counting the request on its token),
/// `grazie-agent`, a 401 behaviour (authentication precedes body checks upstream), `Content-Type`, a JSON body.
/// Every other behaviour applies only to a valid body, so it is left to the route.
fn admit<'a>(
    shared: &Shared,
    headers: &'a HeaderMap,
    json: Option<&'a Value>,
) -> Result<Admitted<'a>, Box<Outcome>> {
    let name = match identify(headers) {
        Ok(name) => name,
        Err(failure) => {
            if let Some(name) = &failure.name {
                count_chat(shared, name);
            }
            return Err(Box::new(Outcome::now(
                failure.name,
                text_error(StatusCode::UNAUTHORIZED, failure.message),
            )));
        }
    };
    count_chat(shared, &name);
    let bad = |name: String, message: &str| {
        Outcome::now(Some(name), text_error(StatusCode::BAD_REQUEST, message))
    };
    if let Err(message) = check_agent(headers) {
        return Err(Box::new(bad(name, message)));
    }
    let behaviour = shared.behaviour(&name);
    let jwt = headers
        .get(JWT_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if behaviour == Behaviour::Unauthorized
        && let Some(reply) = error_reply(&behaviour, jwt)
    {
        return Err(Box::new(Outcome::now(Some(name), reply)));
    }
    if !header_contains(headers, header::CONTENT_TYPE, "application/json") {
        return Err(Box::new(bad(name, "Content-Type must be application/json")));
    }
    // No Accept check: JetBrains' own client sends none (docs/UPSTREAM.md "Hosts, paths, headers").
    let Some(body) = json else {
        return Err(Box::new(bad(name, "body is not JSON")));
    };
    Ok(Admitted {
        name,
        behaviour,
        jwt,
        body,
    })
}

fn chat(
    shared: &Shared,
    headers: &HeaderMap,
    json: Option<&Value>,
    version: ApiVersion,
) -> Outcome {
    let Admitted {
        name,
        behaviour,
        jwt,
        body,
    } = match admit(shared, headers, json) {
        Ok(admitted) => admitted,
        Err(refused) => return *refused,
    };
    let bad = |message: &str| {
        Outcome::now(
            Some(name.clone()),
            text_error(StatusCode::BAD_REQUEST, message),
        )
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
