//! The one error type of the HTTP face: every failure becomes an OpenAI error object with a fitting status, or, on
//! the Anthropic face, an Anthropic error object (`{"type":"error","error":{"type","message"}}`) with the same status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::translate::TranslateError;
use crate::upstream::UpstreamError;

/// Longer messages are cut: no error of ours needs more, and a client's value quoted whole could be megabytes.
const MAX_MESSAGE_CHARS: usize = 1000;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<String>,
    pub retry_after: Option<u64>,
    /// Sent as `x-should-retry` (which the openai and anthropic SDKs obey) when set.
    pub should_retry: Option<bool>,
}

impl ApiError {
    /// Control characters in `message` are escaped: it often quotes the client (a model name, a parse error) and
    /// goes into the log as well as the answer, where a raw line break could forge a log line. For the same reason
    /// it is cut at `MAX_MESSAGE_CHARS`: a parse error can quote a value of any size.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if let Some((cut, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(cut);
            message.push('…');
        }
        let message = match crate::logging::escape_controls(&message) {
            std::borrow::Cow::Borrowed(_) => message,
            std::borrow::Cow::Owned(escaped) => escaped,
        };
        Self {
            status,
            message,
            kind,
            code: None,
            param: None,
            retry_after: None,
            should_retry: None,
        }
    }

    pub fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid or missing API key: send the configured bearer token as `Authorization: Bearer <key>` or `x-api-key`",
        )
        .code("invalid_api_key")
    }

    pub fn model_not_found(model: &str) -> Self {
        // Quoted, but not at any length: the name is the client's, and the message is logged.
        let shown = match model.char_indices().nth(100) {
            Some((cut, _)) => format!("{}…", &model[..cut]),
            None => model.to_string(),
        };
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!("The model `{shown}` does not exist; GET /v1/models lists the models this proxy serves"),
        )
        .code("model_not_found")
        .param("model")
    }

    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("request body is larger than the limit of {limit} bytes (max_body_size)"),
        )
        .code("request_too_large")
    }

    /// A failure from the upstream that reaches the client: request errors keep their status, the rest are 502.
    pub fn upstream(err: &UpstreamError, attempts: usize) -> Self {
        match err {
            UpstreamError::Request { status, body } => Self::new(
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST),
                "invalid_request_error",
                format!("JetBrains AI refused the request: {body}"),
            )
            .code("upstream_rejected_request"),
            other => Self::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                format!("JetBrains AI failed on {attempts} attempt(s); last error: {other}"),
            )
            .code("upstream_failed"),
        }
    }

    /// The error object as JSON, for responses and for a final SSE event.
    pub fn body(&self) -> serde_json::Value {
        crate::translate::openai::error_body(
            &self.message,
            self.kind,
            self.code,
            self.param.as_deref(),
        )
    }

    /// Anthropic's error type for this error: it follows the status, as Anthropic's own errors do.
    pub fn anthropic_kind(&self) -> &'static str {
        crate::translate::anthropic::error_type(self.status.as_u16())
    }

    /// The Anthropic error object as JSON: `{"type":"error","error":{"type","message"}}`.
    pub fn anthropic_body(&self) -> serde_json::Value {
        crate::translate::anthropic::error_body(self.anthropic_kind(), &self.message)
    }

    /// The response on the Anthropic face: same status, `Retry-After` and `x-should-retry`, Anthropic's body.
    pub fn into_anthropic_response(self) -> Response {
        let body = self.anthropic_body();
        self.respond(body)
    }

    fn respond(self, body: serde_json::Value) -> Response {
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if let Some(retry) = self.should_retry {
            let value = HeaderValue::from_static(if retry { "true" } else { "false" });
            response.headers_mut().insert("x-should-retry", value);
        }
        response
    }
}

impl From<TranslateError> for ApiError {
    fn from(err: TranslateError) -> Self {
        let mut api = ApiError::bad_request(err.message);
        api.param = err.param;
        api
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        self.respond(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_escaped_and_bounded() {
        let err = ApiError::bad_request(format!("bad\nline {}", "x".repeat(5000)));
        assert!(err.message.starts_with("bad\\nline x"), "{}", err.message);
        assert!(err.message.chars().count() <= MAX_MESSAGE_CHARS + 2);
        assert!(err.message.ends_with('…'));
        let long_model = ApiError::model_not_found(&"m".repeat(500));
        assert!(
            long_model
                .message
                .contains(&format!("{}…`", "m".repeat(100)))
        );
    }
}
