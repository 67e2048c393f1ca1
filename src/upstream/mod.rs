//! The JetBrains AI client: chat streams, quota checks and JWT refresh over one shared HTTP connection pool; and
//! the upstream's wire model, which nothing here translates: `request` (the chat body's shape, message types and
//! endpoint paths), `parameters` (the `llm.parameters.*` keys and their pairs), `event` (one SSE `data:` payload →
//! an `UpstreamEvent`), `sse` (SSE framing), `stream` (a chat answer's events, with the timeouts), `error` (statuses
//! → what the pool does); and `oauth`, the call to JetBrains' account service that turns a refresh token into an ID
//! token.
//!
//! Timeouts are layered because a total deadline would cut long streams: connect, time to response headers
//! (`request_timeout`), time to the first content (`first_byte_timeout`) and the longest wait between two pieces of
//! content (`idle_timeout`); keep-alive and metadata events reset neither.

pub mod error;
pub mod event;
pub mod native;
pub mod oauth;
pub mod parameters;
pub mod request;
mod sse;
mod stream;

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, USER_AGENT};
use secrecy::ExposeSecret;
use serde_json::Value;

pub use error::UpstreamError;
pub use stream::{EventStream, MAX_LINE_BYTES};

use crate::config::{Config, UpstreamApi, UpstreamHttp};
use crate::models::catalog::Profile;
use crate::pool::QuotaInfo;
use request::{GrazieRequest, path_for};

pub const QUOTA_PATH: &str = "/user/v5/quota/get";
/// The profile catalogue (GAC `Ver8.profiles`; docs/UPSTREAM.md "Models"). A GET that costs no quota.
pub const PROFILES_PATH: &str = "/user/v5/llm/profiles/v8";
/// Error bodies are read this far and no further; the rest is never read (the connection is dropped), so an
/// upstream answering a 1 GiB error costs 64 KiB. Only the first 300 characters are shown anyway.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// The quota and refresh answers are a few hundred bytes, the profile catalogue some tens of KiB; a larger answer
/// is refused rather than read into memory.
const MAX_JSON_BODY: usize = 1024 * 1024;
pub const REFRESH_PATH: &str = "/auth/jetbrains-jwt/provide-access/license/v2";
const JWT_HEADER: &str = "grazie-authenticate-jwt";
/// Said after a failure of an HTTP/2 connection when `upstream_http` is `"2"`.
const NOT_HTTP2: &str =
    "upstream_http is \"2\": if the upstream does not speak HTTP/2, set it to \"auto\" or \"1.1\"";

/// Per-stream limits the event reader enforces.
#[derive(Debug, Clone, Copy)]
pub struct StreamTimeouts {
    pub first_event: Duration,
    pub idle: Duration,
}

#[derive(Clone)]
pub struct UpstreamClient {
    /// One client per event loop (`crate::event_loop`): a pooled connection's task runs on the loop that opened it,
    /// so a request on another loop would cross threads for every chunk.
    http: std::sync::Arc<[reqwest::Client]>,
    base: String,
    /// The chat endpoints' URLs, parsed once: parsing the URL again for every request was ≈ 4 % of the proxy's
    /// instructions on a streamed answer.
    chat_urls: std::sync::Arc<[(&'static str, reqwest::Url)]>,
    request_timeout: Duration,
    /// `upstream_http`, to say what to change when HTTP/2 finds no HTTP/2 upstream.
    version: UpstreamHttp,
    timeouts: StreamTimeouts,
    /// Configured credentials that do not look like JWTs (those are scrubbed by shape): scrubbed from upstream
    /// error bodies verbatim, in case the upstream echoes one back.
    verbatim: std::sync::Arc<[secrecy::SecretString]>,
    /// For the account service (`oauth`): its own client, so the JetBrains AI headers (`grazie-agent`) never go
    /// there; no redirects either.
    oauth: reqwest::Client,
    oauth_url: String,
}

impl UpstreamClient {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static("ktor-client"));
        headers.insert(
            "grazie-agent",
            HeaderValue::from_str(&config.grazie_agent)
                .map_err(|_| anyhow::anyhow!("grazie_agent is not a valid header value"))?,
        );
        // TLS verification stays on (reqwest's default); the Go original turned it off. Redirects are never
        // followed: reqwest would resend the custom JWT header (and on 307/308 the body) to wherever they point.
        let http = (0..crate::event_loop::running())
            .map(|_| {
                let builder = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .default_headers(headers.clone())
                    .connect_timeout(config.connect_timeout)
                    .tcp_nodelay(true)
                    .pool_idle_timeout(Duration::from_secs(90));
                with_version(builder, config.upstream_http).build()
            })
            .collect::<Result<Vec<_>, _>>()?
            .into();
        let oauth = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .build()?;
        let base = &config.upstream_url;
        let chat_urls = [
            path_for("", UpstreamApi::V8),
            path_for("", UpstreamApi::V7),
            path_for("-codex", UpstreamApi::V8),
        ]
        .into_iter()
        .filter_map(|path| Some((path, reqwest::Url::parse(&format!("{base}{path}")).ok()?)))
        .collect();
        Ok(Self {
            http,
            chat_urls,
            base: config.upstream_url.clone(),
            request_timeout: config.request_timeout,
            version: config.upstream_http,
            timeouts: StreamTimeouts {
                first_event: config.first_byte_timeout,
                idle: config.idle_timeout,
            },
            verbatim: verbatim_secrets(config),
            oauth,
            oauth_url: config.oauth_url.clone(),
        })
    }

    /// The current event loop's client.
    fn http(&self) -> &reqwest::Client {
        &self.http[crate::event_loop::index() % self.http.len()]
    }

    /// The same client (and its warm connections) for a reloaded config whose upstream settings did not change:
    /// only the credentials to scrub are new.
    pub fn for_config(&self, config: &Config) -> Self {
        Self {
            verbatim: verbatim_secrets(config),
            oauth_url: config.oauth_url.clone(),
            ..self.clone()
        }
    }

    /// Starts a chat and returns its event stream once the upstream has answered 200.
    pub async fn chat(
        &self,
        jwt: &str,
        request: &GrazieRequest,
    ) -> Result<EventStream, UpstreamError> {
        let url = match self
            .chat_urls
            .iter()
            .find(|(path, _)| *path == request.path)
        {
            Some((_, url)) => url.clone(),
            None => reqwest::Url::parse(&format!("{}{}", self.base, request.path))
                .map_err(|e| UpstreamError::Fault(format!("bad upstream URL: {e}")))?,
        };
        let mut send = self
            .http()
            .post(url)
            .header(JWT_HEADER, jwt)
            .header(CONTENT_TYPE, "application/json");
        // The native routes get no Accept, as the one known client of them sends (docs/UPSTREAM.md).
        if request.native.is_none() {
            send = send.header(ACCEPT, "text/event-stream");
        }
        let send = send.body(request.body.clone()).send();
        let response = self.answered(send, jwt).await?;
        Ok(EventStream::new(response, self.timeouts).in_format(request.native))
    }

    /// Asks the quota endpoint (costs no quota): proves the JWT works and says how much is left.
    pub async fn quota(&self, jwt: &str) -> Result<QuotaInfo, UpstreamError> {
        let send = self
            .http()
            .post(format!("{}{QUOTA_PATH}", self.base))
            .header(JWT_HEADER, jwt)
            .header(CONTENT_TYPE, "application/json")
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send();
        let response = self.answered(send, jwt).await?;
        let body: Value = self.json_body(response).await?;
        parse_quota(&body).ok_or_else(|| {
            UpstreamError::Fault("quota answer has no current/maximum amounts".into())
        })
    }

    /// Asks which profiles this token can use and what each takes (`profiles/v8`; costs no quota).
    pub async fn profiles(&self, jwt: &str) -> Result<Vec<Profile>, UpstreamError> {
        let send = self
            .http()
            .get(format!("{}{PROFILES_PATH}", self.base))
            .header(JWT_HEADER, jwt)
            .header(CONTENT_TYPE, "application/json")
            .send();
        let response = self.answered(send, jwt).await?;
        let body: Value = self.json_body(response).await?;
        crate::models::catalog::parse(&body)
            .map_err(|why| UpstreamError::Fault(format!("profiles/v8 answer unreadable: {why}")))
    }

    /// Exchanges refresh credentials for a new JWT.
    pub async fn refresh(
        &self,
        license_id: &str,
        authorization: &str,
    ) -> Result<String, UpstreamError> {
        let send = self
            .http()
            .post(format!("{}{REFRESH_PATH}", self.base))
            .bearer_auth(authorization)
            .json(&serde_json::json!({"licenseId": license_id}))
            .send();
        let response = self.answered(send, authorization).await?;
        let body: Value = self.json_body(response).await?;
        body.get("token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(|| UpstreamError::Fault("refresh answer carries no token".into()))
    }

    /// Waits for response headers (bounded by `request_timeout`) and turns a non-200 into a classified error.
    /// `credential` is what this call sent; it is scrubbed from the error body verbatim.
    async fn answered(
        &self,
        send: impl Future<Output = reqwest::Result<reqwest::Response>>,
        credential: &str,
    ) -> Result<reqwest::Response, UpstreamError> {
        let response = self.headers_of(send).await?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(response);
        }
        if let Some((status, to)) = redirect_of(&response) {
            return Err(UpstreamError::Redirected { status, to });
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = error_body(response).await;
        let mut secrets: Vec<&str> = self.verbatim.iter().map(|s| s.expose_secret()).collect();
        secrets.push(credential);
        Err(UpstreamError::from_status(
            status,
            retry_after,
            &body,
            &secrets,
        ))
    }

    /// Waits for response headers, bounded by `request_timeout`; a connection that cannot be made is
    /// `Unreachable`, anything else that fails a `Fault`.
    async fn headers_of(
        &self,
        send: impl Future<Output = reqwest::Result<reqwest::Response>>,
    ) -> Result<reqwest::Response, UpstreamError> {
        tokio::time::timeout(self.request_timeout, send)
            .await
            .map_err(|_| {
                UpstreamError::Fault(format!(
                    "no answer from upstream within {:?}",
                    self.request_timeout
                ))
            })?
            .map_err(|e| {
                if e.is_connect() {
                    UpstreamError::Unreachable(describe(&e))
                } else if self.version == UpstreamHttp::Http2 && h2_connection_failed(&e) {
                    // Every token would fail the same way, so none is blamed (as for a connection refused), and
                    // the message says which setting to look at.
                    UpstreamError::Unreachable(format!("{}; {NOT_HTTP2}", describe(&e)))
                } else {
                    UpstreamError::Fault(describe(&e))
                }
            })
    }

    async fn json_body(&self, response: reqwest::Response) -> Result<Value, UpstreamError> {
        let (bytes, cut) =
            tokio::time::timeout(self.timeouts.idle, read_capped(response, MAX_JSON_BODY))
                .await
                .map_err(|_| UpstreamError::Fault("upstream body timed out".into()))?
                .map_err(|e| UpstreamError::Fault(describe(&e)))?;
        if cut {
            return Err(UpstreamError::Fault(format!(
                "upstream answer is larger than {MAX_JSON_BODY} bytes"
            )));
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| UpstreamError::Fault(format!("upstream body is not JSON: {e}")))
    }
}

/// Applies `upstream_http`. reqwest already offers `h2` and `http/1.1` by ALPN over https and speaks HTTP/1.1 over
/// plain http (`Auto`). Its `http2_prior_knowledge` speaks HTTP/2 from the first byte over plain http and offers only
/// `h2` by ALPN over https: worth choosing because hyper's HTTP/2 body hands over every DATA frame already read, so
/// a burst of events goes to the client in one write, where HTTP/1.1 hands over one chunk per wake.
fn with_version(builder: reqwest::ClientBuilder, version: UpstreamHttp) -> reqwest::ClientBuilder {
    match version {
        UpstreamHttp::Auto => builder,
        UpstreamHttp::Http1 => builder.http1_only(),
        UpstreamHttp::Http2 => builder.http2_prior_knowledge(),
    }
}

/// A 3xx answer's status and where it pointed (`error::redirect_target`: scheme, host and port only); `None` for
/// any other answer. Redirects are never followed, by the upstream client nor the account service's.
fn redirect_of(response: &reqwest::Response) -> Option<(u16, Option<String>)> {
    let status = response.status().as_u16();
    if !(300..400).contains(&status) {
        return None;
    }
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok());
    Some((status, error::redirect_target(location)))
}

/// An error answer's body as text, at most `MAX_ERROR_BODY` of it and within 5 s; empty when it cannot be read.
async fn error_body(response: reqwest::Response) -> String {
    tokio::time::timeout(
        Duration::from_secs(5),
        read_capped(response, MAX_ERROR_BODY),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .map(|(bytes, _)| String::from_utf8_lossy(&bytes).into_owned())
    .unwrap_or_default()
}

/// Reads at most `cap` bytes of a body; the flag says whether more was left unread.
async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> reqwest::Result<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap.saturating_sub(out.len());
        if chunk.len() > room {
            out.extend_from_slice(&chunk[..room]);
            return Ok((out, true));
        }
        out.extend_from_slice(&chunk);
    }
    Ok((out, false))
}

/// Configured credentials that are not JWT-shaped (the shape scrubber cannot see them).
fn verbatim_secrets(config: &Config) -> std::sync::Arc<[secrecy::SecretString]> {
    config
        .tokens
        .iter()
        .flat_map(|t| {
            std::iter::once(&t.token)
                .chain(t.authorization.as_ref())
                .chain(t.refresh_token.as_ref())
        })
        .filter(|s| !error::looks_like_jwt(s.expose_secret()))
        .cloned()
        .collect()
}

/// Whether a request that got no answer failed on the connection itself (in I/O, in a frame jbproxy could not read,
/// or on a connection that closed under it) rather than by anything the peer said in HTTP/2 (a stream reset, a
/// GOAWAY): what speaking HTTP/2 to an upstream that does not looks like (it closes the connection, or answers in
/// HTTP/1.1, which is no HTTP/2 frame).
fn h2_connection_failed(err: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(s) = source {
        // hyper hands an HTTP/2 I/O failure on as its own I/O error, without the `h2::Error`.
        if s.is::<std::io::Error>() {
            return true;
        }
        if let Some(hyper) = s.downcast_ref::<hyper::Error>()
            && (hyper.is_canceled() || hyper.is_closed())
        {
            return true;
        }
        if let Some(h2) = s.downcast_ref::<h2::Error>() {
            return h2.is_io() || h2.is_library();
        }
        source = s.source();
    }
    false
}

/// A reqwest error without the URL's query or anything secret: just what kind of failure it was.
fn describe(err: &reqwest::Error) -> String {
    let kind = if err.is_connect() {
        "cannot connect to upstream"
    } else if err.is_timeout() {
        "upstream timed out"
    } else if err.is_body() || err.is_decode() {
        "upstream body broken"
    } else {
        "upstream request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// Reads the quota answer: `current.current.amount` of `current.maximum.amount`, resetting at `current.until`.
/// Where tariff/top-up quotas are present they decide whether anything is left.
pub fn parse_quota(body: &Value) -> Option<QuotaInfo> {
    let current = body.get("current")?;
    let amount = |v: Option<&Value>| -> Option<f64> {
        match v?.get("amount")? {
            Value::String(s) => s.trim().parse().ok(),
            Value::Number(n) => n.as_f64(),
            _ => None,
        }
    };
    let used = amount(current.get("current"))?;
    let maximum = amount(current.get("maximum"))?;
    let until = current
        .get("until")
        .and_then(Value::as_i64)
        .map(crate::epoch::from_millis);
    let quota = QuotaInfo::spent(used, maximum, until);
    let tariff = amount(current.get("tariffQuota").and_then(|q| q.get("available")));
    let top_up = amount(current.get("topUpQuota").and_then(|q| q.get("available")));
    if tariff.is_some() || top_up.is_some() {
        return Some(QuotaInfo {
            left: tariff.unwrap_or(0.0).max(0.0) + top_up.unwrap_or(0.0).max(0.0),
            ..quota
        });
    }
    Some(quota)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quota_left_comes_from_current_and_maximum() {
        let q = parse_quota(&json!({"current":{"current":{"amount":"120000.0"},"maximum":{"amount":"300000.0"},"until":1767225600000u64}}))
            .expect("parses");
        assert_eq!((q.used, q.maximum, q.left), (120000.0, 300000.0, 180000.0));
        assert!(q.until.is_some());
    }

    #[test]
    fn tariff_and_top_up_decide_when_present() {
        let body = json!({"current":{"current":{"amount":"300000"},"maximum":{"amount":"300000"},
            "tariffQuota":{"available":{"amount":"0"}},"topUpQuota":{"available":{"amount":"500"}}}});
        assert_eq!(parse_quota(&body).expect("parses").left, 500.0);
        let body = json!({"current":{"current":{"amount":"1"},"maximum":{"amount":"300000"},
            "tariffQuota":{"available":{"amount":"0"}}}});
        assert_eq!(parse_quota(&body).expect("parses").left, 0.0);
        assert!(parse_quota(&json!({"nothing": true})).is_none());
    }
}
