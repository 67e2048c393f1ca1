//! The OpenAI chat-completions request as jbproxy reads it. Parsing is lenient: fields the upstream has no use for
//! (temperature, max_tokens, top_p, stop, …) are accepted and dropped, because JetBrains AI has no sampling
//! parameters. Messages stay raw JSON here and are validated in `request`, so errors can name the exact field.

use serde::Deserialize;

/// `POST /v1/chat/completions` body.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    /// Validated by `request::build`, which names the offending field (`messages[2].content`).
    pub messages: Vec<serde_json::Value>,
    #[serde(default)]
    pub stream: bool,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub tools: Option<Vec<serde_json::Value>>,
    /// Accepted, never sent: the upstream has no such field.
    #[serde(default)]
    pub tool_choice: Option<serde_json::Value>,
    /// Only 1 (or absent) is supported: the upstream returns one choice.
    #[serde(default)]
    pub n: Option<u32>,
}

/// `stream_options`: only `include_usage` means anything to jbproxy.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

impl ChatRequest {
    /// Whether a streaming answer should end with a usage chunk.
    pub fn include_usage(&self) -> bool {
        self.stream_options.is_some_and(|o| o.include_usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_ignored() {
        let req: ChatRequest = serde_json::from_str(
            r#"{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"temperature":0.2,
                "max_tokens":5,"top_p":1,"stop":["x"],"user":"u","seed":1}"#,
        )
        .unwrap();
        assert_eq!(req.model, "gpt-4o");
        assert_eq!(req.messages.len(), 1);
        assert!(!req.stream);
        assert!(req.tools.is_none());
        assert!(!req.include_usage());
    }

    #[test]
    fn stream_options_default_to_no_usage() {
        let req: ChatRequest = serde_json::from_str(
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{}}"#,
        )
        .unwrap();
        assert!(req.stream);
        assert!(!req.include_usage());
        let req: ChatRequest = serde_json::from_str(
            r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}"#,
        )
        .unwrap();
        assert!(req.include_usage());
    }

    #[test]
    fn tools_tool_choice_and_n_are_read() {
        let req: ChatRequest = serde_json::from_str(
            r#"{"model":"m","messages":[],"tools":[{"type":"function","function":{"name":"f"}}],
                "tool_choice":"auto","n":2}"#,
        )
        .unwrap();
        assert_eq!(req.tools.as_ref().map(Vec::len), Some(1));
        assert_eq!(req.tool_choice, Some(serde_json::json!("auto")));
        assert_eq!(req.n, Some(2));
    }

    #[test]
    fn missing_model_is_an_error() {
        assert!(serde_json::from_str::<ChatRequest>(r#"{"messages":[]}"#).is_err());
    }
}
