//! What jbproxy POSTs upstream: the chat endpoint's path for a profile and the serialized body. The body's shape
//! (message types, the `parameters` entry) is the upstream's wire model; `translate` fills it from a conversation.

use crate::config::UpstreamApi;

/// What to POST upstream.
#[derive(Debug)]
pub struct GrazieRequest {
    /// Path under the upstream base URL.
    pub path: &'static str,
    /// The serialized JSON body.
    pub body: Vec<u8>,
    /// Estimated prompt tokens (the upstream reports none).
    pub prompt_tokens: u32,
}

const PATH_V8: &str = "/user/v5/llm/chat/stream/v8";
const PATH_V7: &str = "/user/v5/llm/chat/stream/v7";
/// Codex profiles take the same body on the responses endpoint (unverified upstream behaviour, per the survey).
const PATH_RESPONSES: &str = "/user/v5/llm/responses/stream/v8";

/// The upstream path for a profile. A profile ending in `-codex` goes to the responses endpoint whatever the API
/// version, since that endpoint exists only as v8.
pub fn path_for(profile: &str, api: UpstreamApi) -> &'static str {
    if profile.ends_with("-codex") {
        PATH_RESPONSES
    } else {
        match api {
            UpstreamApi::V8 => PATH_V8,
            UpstreamApi::V7 => PATH_V7,
        }
    }
}
