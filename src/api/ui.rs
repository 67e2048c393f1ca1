//! The status page, `GET /ui`: hand-written HTML, CSS and JavaScript embedded in the binary (`src/api/ui/`), no
//! CDN and no build step. The page holds no data; its script logs in with the admin key (kept in the tab's
//! `sessionStorage`) and reads the admin endpoints (`/stats`, `/stats/traffic`) and calls the action endpoints.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and fetches from this origin only: no
//! inline script or style, no framing, no form submission), `X-Frame-Options: DENY` and `nosniff`.

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;

const INDEX: &str = include_str!("ui/index.html");
const SCRIPT: &str = include_str!("ui/app.js");
const STYLE: &str = include_str!("ui/app.css");
const ICON: &str = include_str!("ui/icon.svg");

/// `form-action 'none'`: the login form is handled by the script; should the script not run, submitting it must not
/// put the key into a URL.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(page))
        .route("/ui/", get(slash))
        .route("/ui/app.js", get(script))
        .route("/ui/app.css", get(style))
        .route("/ui/icon.svg", get(icon))
}

async fn page() -> Response {
    asset(INDEX, "text/html; charset=utf-8")
}

async fn script() -> Response {
    asset(SCRIPT, "text/javascript; charset=utf-8")
}

async fn style() -> Response {
    asset(STYLE, "text/css; charset=utf-8")
}

async fn icon() -> Response {
    asset(ICON, "image/svg+xml")
}

/// `/ui/` is not the page (its relative links would miss); send the browser to `/ui`.
async fn slash() -> Response {
    (
        StatusCode::PERMANENT_REDIRECT,
        [(header::LOCATION, "../ui")],
    )
        .into_response()
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        // Small enough to fetch every time, so a new binary's page is never mixed with an old cached script.
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CSP allows no inline script or style; this keeps the page honest about it.
    #[test]
    fn the_page_has_no_inline_script_style_or_handler() {
        let lower = INDEX.to_ascii_lowercase();
        for needle in ["<script>", "<style", " style=", "javascript:"] {
            assert!(!lower.contains(needle), "{needle:?} in index.html");
        }
        // An inline handler: whitespace, `on`, letters, `=`.
        let handlers: Vec<&str> = lower
            .match_indices(char::is_whitespace)
            .map(|(at, _)| &lower[at + 1..])
            .filter(|rest| {
                rest.strip_prefix("on").is_some_and(|name| {
                    let letters = name.bytes().take_while(u8::is_ascii_lowercase).count();
                    letters > 0 && name[letters..].starts_with('=')
                })
            })
            .collect();
        assert!(handlers.is_empty(), "inline handlers: {handlers:?}");
        assert!(INDEX.contains(r#"<script src="ui/app.js" defer></script>"#));
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!SCRIPT.contains(banned), "app.js uses {banned}");
        }
    }
}
