//! Error answers the handlers never see, made JSON like every other: the router's own 405 for a wrong method on a
//! known path (bodiless, with `Allow`), an extractor's plain-text rejection (a path that is not valid UTF-8 after
//! percent-decoding), and a request target too long to be meant (414). Each becomes the face's error object, in
//! Anthropic's shape when the request came from an Anthropic client.
//!
//! What stays bare: hyper answers a request it cannot parse at all (a malformed request line or header: 400; a
//! header block over `max_header_size`: 431; a target over its own 64 KiB limit: 414) itself, with a status line and
//! no body, before any of this code runs, and so does HTTP/2's header-list limit (431). Those bodies cannot be
//! chosen short of replacing hyper's HTTP/1 parser.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// The longest request target (path and query) answered normally. No endpoint needs more than a model id's worth,
/// and a longer one is a client bug worth a clear 414 rather than a 404 quoting it.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;

/// The longest plain-text rejection kept as a message; axum's are a line.
const MAX_TEXT_BYTES: usize = 4 * 1024;

/// Middleware: see the module doc.
pub async fn guard(request: Request, next: Next) -> Response {
    let anthropic = is_anthropic(request.uri().path(), request.headers());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if target > MAX_TARGET_BYTES {
        let err = ApiError::new(
            StatusCode::URI_TOO_LONG,
            "invalid_request_error",
            format!(
                "the request target is {target} bytes long; this proxy takes at most {MAX_TARGET_BYTES}"
            ),
        )
        .code("uri_too_long");
        return respond(err, anthropic);
    }
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(response.headers()) {
        return response;
    }
    let (parts, body) = response.into_parts();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow = parts.headers.get(header::ALLOW).cloned();
        let allowed = allow
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .replace(',', ", ");
        let err = ApiError::new(
            status,
            "invalid_request_error",
            format!("{path} does not take {method} requests; it takes {allowed}"),
        )
        .code("method_not_allowed");
        let mut response = respond(err, anthropic);
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
        return response;
    }
    let text = axum::body::to_bytes(body, MAX_TEXT_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = match text.is_empty() {
        true => status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_owned(),
        false => text,
    };
    respond(ApiError::new(status, kind(status), message), anthropic)
}

/// The Anthropic face: its paths, or any request from an Anthropic SDK (they all send `anthropic-version`).
pub fn is_anthropic(path: &str, headers: &HeaderMap) -> bool {
    path.starts_with("/v1/messages") || headers.contains_key("anthropic-version")
}

fn respond(err: ApiError, anthropic: bool) -> Response {
    match anthropic {
        true => err.into_anthropic_response(),
        false => err.into_response(),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn kind(status: StatusCode) -> &'static str {
    match status {
        s if s.is_server_error() => "server_error",
        _ => "invalid_request_error",
    }
}
