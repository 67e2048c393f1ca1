//! The OpenAI Responses API face (`POST /v1/responses`): the request as parsed (`request`), streamed answers as
//! typed events (`stream`, an [`SseWriter`](super::SseWriter)) and whole answers as one Response object (`response`,
//! an [`AnswerBuilder`](super::AnswerBuilder)). Both answers are assembled by `output`.
//!
//! jbproxy keeps no state, so everything that needs stored responses (`store: true`, `previous_response_id`,
//! `conversation`, `background`) is refused; hosted tools the upstream cannot run are dropped. Tools in a
//! `namespace` and `custom` (free-text) tools, which Codex CLI sends, reach the upstream as plain functions: a
//! namespaced tool as `<namespace>__<name>`, a custom tool as a function taking `{"input": string}`. [`ToolNames`]
//! remembers how to turn the upstream's calls back into the client's `function_call` / `custom_tool_call`.

mod output;
pub mod request;
pub mod response;
pub mod stream;

use std::collections::HashMap;

use serde_json::{Map, Value};

/// The namespace OpenAI's models call their plain functions in: its tools keep their own names (Codex sends its
/// `exec` tool in it and expects the call back without a namespace).
const DEFAULT_NAMESPACE: &str = "functions";

/// A tool as the client named it, for writing the upstream's call back in the client's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTool {
    pub name: String,
    pub namespace: Option<String>,
    /// A `custom` tool: its call is a `custom_tool_call` with the `input` text, not a `function_call`.
    pub custom: bool,
}

/// Upstream tool name → the client's tool, for the tools whose upstream name or kind differ from a plain function
/// of the same name (namespaced and custom tools). Any other name is a plain function.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolNames {
    renamed: HashMap<String, ClientTool>,
}

impl ToolNames {
    /// The client's view of the upstream tool `upstream`.
    pub fn client(&self, upstream: &str) -> ClientTool {
        self.renamed
            .get(upstream)
            .cloned()
            .unwrap_or_else(|| ClientTool {
                name: upstream.to_string(),
                namespace: None,
                custom: false,
            })
    }

    fn insert(&mut self, upstream: String, tool: ClientTool) {
        if tool.namespace.is_some() || tool.custom {
            self.renamed.insert(upstream, tool);
        }
    }
}

/// The upstream's name for the tool `name` in `namespace`: Codex's own flat spelling (`mcp__probe__probe_nonce`),
/// and the name itself for the default namespace or none.
pub fn upstream_name(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(namespace) if namespace != DEFAULT_NAMESPACE => format!(
            "{}__{}",
            namespace.trim_end_matches('_'),
            name.trim_start_matches('_')
        ),
        _ => name.to_string(),
    }
}

/// What an answer repeats of its request, and what it needs to write the upstream's events in the client's terms.
/// Built once per request; the stream writer and every failover attempt's builder share it.
#[derive(Debug)]
pub struct Envelope {
    /// `resp_…`; item ids are derived from it so they stay unique across turns.
    pub id: String,
    pub created_at: u64,
    /// The model as the client named it.
    pub model: String,
    pub input_tokens: u32,
    /// The request fields a Response object repeats (`instructions`, `tools`, `tool_choice`, …), from
    /// [`request::ResponsesRequest::echo`].
    pub echo: Map<String, Value>,
    pub names: ToolNames,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced_names_are_joined_as_codex_does() {
        assert_eq!(
            upstream_name(Some("mcp__probe"), "probe_nonce"),
            "mcp__probe__probe_nonce"
        );
        assert_eq!(upstream_name(Some("ns_"), "_f"), "ns__f");
        assert_eq!(upstream_name(Some("functions"), "exec"), "exec");
        assert_eq!(upstream_name(None, "exec"), "exec");
    }

    #[test]
    fn unknown_names_are_plain_functions() {
        let mut names = ToolNames::default();
        names.insert(
            "mcp__probe__probe_nonce".into(),
            ClientTool {
                name: "probe_nonce".into(),
                namespace: Some("mcp__probe".into()),
                custom: false,
            },
        );
        names.insert(
            "plain".into(),
            ClientTool {
                name: "plain".into(),
                namespace: None,
                custom: false,
            },
        );
        assert_eq!(names.renamed.len(), 1, "plain functions need no entry");
        assert_eq!(
            names.client("mcp__probe__probe_nonce").namespace.as_deref(),
            Some("mcp__probe")
        );
        assert_eq!(
            names.client("other"),
            ClientTool {
                name: "other".into(),
                namespace: None,
                custom: false
            }
        );
    }
}
