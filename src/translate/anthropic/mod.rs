//! Pure translation for the Anthropic Messages API face (`/v1/messages`): no I/O, no async.
//!
//! - `request`: the Anthropic request parsed into the typed [`Conversation`](super::conversation::Conversation) the
//!   OpenAI face also produces, so the one mapping ([`grazie::build`](super::grazie::build)) serves both; every error
//!   names the Anthropic field (`messages[1].content[0].source`).
//! - `stream`: upstream events → Anthropic SSE records (`message_start` … `message_stop`), an
//!   [`SseWriter`](super::SseWriter).
//! - `response`: upstream events → one non-streamed `message` object, an [`AnswerBuilder`](super::AnswerBuilder).
//! - `stop_reason` and `error_type`: the mappings both answers and the HTTP layer share.

pub mod request;
pub mod response;
pub mod stream;

use crate::upstream::event::FinishReason;

/// Anthropic's `stop_reason`. Tool-use blocks in the answer mean `tool_use` even if the upstream said `stop`: an
/// Anthropic client runs tools only on `tool_use`, and the blocks are there. `length` wins over both, since the
/// answer (possibly a tool call's arguments) was cut.
pub fn stop_reason(reason: Option<FinishReason>, saw_tool_use: bool) -> &'static str {
    match reason {
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls) => "tool_use",
        _ if saw_tool_use => "tool_use",
        _ => "end_turn",
    }
}

/// Anthropic's error `type` for an HTTP status, per its documented table. 503 (jbproxy's "no usable token") reads
/// as `overloaded_error`, which Anthropic clients retry with backoff, as they should here.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// Anthropic's error object, `{"type": "error", "error": {"type", "message"}}`: the body of an error response and
/// of the `error` record that ends a cut stream.
pub fn error_body(kind: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// The id given to a tool-use block whose upstream event carried none (v7 `FunctionCall` has no ids). Built from
/// the message id so ids stay unique across turns: clients key tool results by them.
fn generated_tool_id(message_id: &str, index: usize) -> String {
    let suffix = message_id.strip_prefix("msg_").unwrap_or(message_id);
    format!("toolu_{suffix}_{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_reasons_map_to_anthropic_names() {
        assert_eq!(stop_reason(Some(FinishReason::Stop), false), "end_turn");
        assert_eq!(stop_reason(None, false), "end_turn");
        assert_eq!(
            stop_reason(Some(FinishReason::ToolCalls), false),
            "tool_use"
        );
        assert_eq!(stop_reason(Some(FinishReason::Stop), true), "tool_use");
        assert_eq!(stop_reason(None, true), "tool_use");
        assert_eq!(stop_reason(Some(FinishReason::Length), true), "max_tokens");
        assert_eq!(stop_reason(Some(FinishReason::Length), false), "max_tokens");
    }

    #[test]
    fn error_types_follow_the_status() {
        for (status, kind) in [
            (400, "invalid_request_error"),
            (401, "authentication_error"),
            (403, "permission_error"),
            (404, "not_found_error"),
            (413, "request_too_large"),
            (429, "rate_limit_error"),
            (500, "api_error"),
            (502, "api_error"),
            (503, "overloaded_error"),
            (529, "overloaded_error"),
        ] {
            assert_eq!(error_type(status), kind, "{status}");
        }
    }

    #[test]
    fn generated_tool_ids_are_unique_per_message() {
        assert_eq!(generated_tool_id("msg_abc", 0), "toolu_abc_0");
        assert_ne!(
            generated_tool_id("msg_abc", 1),
            generated_tool_id("msg_xyz", 1)
        );
    }

    /// `(family, version numbers)` of a `claude-*` alias or an `anthropic-claude-*` profile: `claude-3-7-sonnet-latest`,
    /// `claude-sonnet-4-5-20250929` and `anthropic-claude-3.7-sonnet` all read the same way. Dates and `latest` are
    /// dropped, and a trailing `.0` (`claude-sonnet-4-0`) means the same as none.
    fn family_and_version(id: &str) -> (String, Vec<u32>) {
        let rest = id
            .strip_prefix("anthropic-claude-")
            .or_else(|| id.strip_prefix("claude-"))
            .unwrap_or(id);
        let mut family = String::new();
        let mut version = Vec::new();
        for token in rest.split(['-', '.']) {
            match token {
                "sonnet" | "opus" | "haiku" => family = token.to_string(),
                "latest" => {}
                t if t.len() == 8 && t.chars().all(|c| c.is_ascii_digit()) => {}
                t => version.push(t.parse().unwrap_or(u32::MAX)),
            }
        }
        if version.len() == 2 && version[1] == 0 {
            version.pop();
        }
        (family, version)
    }

    /// Peers served Haiku by Sonnet; here every Claude alias must name a profile of its own family and version.
    #[test]
    fn every_claude_alias_maps_to_its_own_family_and_version() {
        let table = crate::models::built_in();
        let mut checked = 0;
        for (alias, profile) in table.iter().filter(|(a, _)| a.starts_with("claude-")) {
            assert!(
                profile.starts_with("anthropic-claude-"),
                "{alias} → {profile}"
            );
            let (alias_family, alias_version) = family_and_version(alias);
            assert!(!alias_family.is_empty(), "{alias} names no family");
            assert!(!alias_version.contains(&u32::MAX), "{alias} does not parse");
            assert_eq!(
                (alias_family, alias_version),
                family_and_version(profile),
                "{alias} → {profile}"
            );
            checked += 1;
        }
        assert!(checked >= 25, "only {checked} claude aliases");
    }

    #[test]
    fn anthropic_ids_and_dated_forms_are_known() {
        let table = crate::models::built_in();
        for (alias, profile) in [
            ("claude-sonnet-4-5", "anthropic-claude-4-5-sonnet"),
            ("claude-sonnet-4-5-20250929", "anthropic-claude-4-5-sonnet"),
            ("claude-haiku-4-5-20251001", "anthropic-claude-4-5-haiku"),
            ("claude-opus-4-5-20251101", "anthropic-claude-4-5-opus"),
            ("claude-opus-4-1-20250805", "anthropic-claude-4.1-opus"),
            ("claude-sonnet-4-20250514", "anthropic-claude-4-sonnet"),
            ("claude-3-7-sonnet-20250219", "anthropic-claude-3.7-sonnet"),
            ("claude-3-7-sonnet-latest", "anthropic-claude-3.7-sonnet"),
            ("claude-3-5-haiku-20241022", "anthropic-claude-3.5-haiku"),
            ("claude-3-5-haiku-latest", "anthropic-claude-3.5-haiku"),
            ("claude-sonnet-4-6", "anthropic-claude-4-6-sonnet"),
            ("claude-opus-4-6", "anthropic-claude-4-6-opus"),
            ("claude-opus-4-7", "anthropic-claude-4-7-opus"),
            ("claude-opus-4-20250514", "anthropic-claude-4-opus"),
            ("claude-opus-4-0", "anthropic-claude-4-opus"),
        ] {
            assert_eq!(
                table.get(alias).map(String::as_str),
                Some(profile),
                "{alias}"
            );
        }
        // No profile is known for the first Claude 3.5 Sonnet: its id stays unmapped rather than served by another
        // model.
        assert!(!table.contains_key("claude-3-5-sonnet-20240620"));
    }
}
