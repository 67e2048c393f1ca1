//! The status page, `GET /ui`: hand-written HTML, CSS and JavaScript (`src/api/ui/`), no CDN and no build step,
//! embedded gzip-compressed (`src/api/ui/gz/`, made and checked by this module's tests) and sent as they are with
//! `Content-Encoding: gzip`. The page holds no data; its script logs in with the admin key (kept in the tab's
//! `sessionStorage`), reads the admin endpoints (`/stats`, `/stats/traffic`) and calls the action endpoints.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and fetches from this origin only: no
//! inline script or style, no framing, no form submission), `X-Frame-Options: DENY` and `nosniff`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// `form-action 'none'`: the login form is handled by the script; should the script not run, submitting it must not
/// put the key into a URL.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Path, source file under `src/api/ui/`, content type, and the gzip of the source.
type Asset = (&'static str, &'static str, &'static str, &'static [u8]);

const ASSETS: [Asset; 4] = [
    (
        "/ui",
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("ui/gz/index.html.gz"),
    ),
    (
        "/ui/app.js",
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("ui/gz/app.js.gz"),
    ),
    (
        "/ui/app.css",
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("ui/gz/app.css.gz"),
    ),
    (
        "/ui/icon.svg",
        "icon.svg",
        "image/svg+xml",
        include_bytes!("ui/gz/icon.svg.gz"),
    ),
];

/// One handler for every file (each axum handler is a sizeable monomorphization; the page must stay small).
pub async fn serve(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let Some((_, _, content_type, gzip)) = ASSETS.iter().find(|a| a.0 == path) else {
        // `/ui/` is not the page (its relative links would miss): send the browser to `/ui`.
        if path == "/ui/" {
            return (
                StatusCode::PERMANENT_REDIRECT,
                [(header::LOCATION, "../ui")],
            )
                .into_response();
        }
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("no file {path} in the status page; open /ui"),
        )
        .code("not_found")
        .into_response();
    };
    if !accepts_gzip(&headers) {
        return ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "invalid_request_error",
            "the status page is sent gzip-compressed: open it in a browser (with curl, add --compressed)",
        )
        .into_response();
    }
    let mut response = gzip.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, *content_type),
        (header::CONTENT_ENCODING, "gzip"),
        (header::VARY, "accept-encoding"),
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

/// Whether `Accept-Encoding` allows gzip (every browser sends `gzip`; `gzip;q=0` refuses it).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::path::PathBuf;

    use super::*;

    const INDEX: &str = include_str!("ui/index.html");
    const SCRIPT: &str = include_str!("ui/app.js");

    fn ui_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/api/ui")
    }

    /// The embedded files are exactly the sources, compressed. `JBPROXY_UPDATE_ASSETS=1 cargo test --lib api::ui`
    /// remakes them after an edit.
    #[test]
    fn the_embedded_files_are_the_sources() {
        let update = std::env::var("JBPROXY_UPDATE_ASSETS").is_ok_and(|v| v == "1");
        for (_, file, _, embedded) in ASSETS {
            let source = std::fs::read(ui_dir().join(file)).expect("source file");
            let gz_path = ui_dir().join("gz").join(format!("{file}.gz"));
            if update {
                let mut encoder =
                    flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
                encoder.write_all(&source).expect("compress");
                let gz = encoder.finish().expect("compress");
                std::fs::write(&gz_path, gz).expect("write the .gz");
            }
            // From the file, not `embedded`: after an update the binary still holds the old bytes.
            let on_disk = std::fs::read(&gz_path).expect("the .gz file");
            let mut unpacked = Vec::new();
            flate2::read::GzDecoder::new(&on_disk[..])
                .read_to_end(&mut unpacked)
                .expect("a gzip file");
            assert!(
                unpacked == source,
                "src/api/ui/{file} changed: run `JBPROXY_UPDATE_ASSETS=1 cargo test --lib api::ui` to remake \
src/api/ui/gz/{file}.gz"
            );
            if !update {
                assert_eq!(
                    embedded,
                    &on_disk[..],
                    "{file}: rebuild to embed the new .gz"
                );
            }
        }
    }

    #[test]
    fn gzip_is_accepted_as_browsers_send_it_and_refused_when_refused() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::ACCEPT_ENCODING, value.parse().expect("header"));
            accepts_gzip(&headers)
        };
        assert!(with("gzip, deflate, br, zstd"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, deflate"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

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
