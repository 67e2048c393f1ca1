//! `native_routes`: which model families go to JetBrains AI's native provider routes (the provider's own request
//! and stream format) instead of the v8 chat endpoint. Opt-in per family; both off by default, since the routes are
//! known only from a peer proxy (docs/UPSTREAM.md, "Native provider routes").

use serde_json::{Value, json};

/// The families a native route exists for, and whether each is on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NativeRoutes {
    /// Claude models on the Anthropic face → `/user/v5/llm/anthropic/v1/messages`.
    pub anthropic: bool,
    /// OpenAI models on the chat completions face → `/user/v5/llm/openai/v1/chat/completions`.
    pub openai: bool,
}

const EXAMPLE: &str = r#"{"anthropic": true, "openai": false}"#;

impl NativeRoutes {
    /// Reads the file's value: an object of family → true/false, e.g. `{"anthropic": true}`; a family left out is
    /// off.
    pub fn parse(value: Value) -> Result<Self, String> {
        let Value::Object(map) = value else {
            return Err(format!(
                "must be an object of model family to true or false, e.g. {EXAMPLE}"
            ));
        };
        let mut routes = NativeRoutes::default();
        for (family, on) in map {
            let Some(on) = on.as_bool() else {
                return Err(format!("{family}: must be true or false, e.g. {EXAMPLE}"));
            };
            match family.as_str() {
                "anthropic" => routes.anthropic = on,
                "openai" => routes.openai = on,
                other => {
                    return Err(format!(
                        "{other:?} has no native route; the families are \"anthropic\" and \"openai\""
                    ));
                }
            }
        }
        Ok(routes)
    }

    /// The redacted view's rendering: every family, with its setting.
    pub fn show(&self) -> Value {
        json!({"anthropic": self.anthropic, "openai": self.openai})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_default_off_and_mistakes_say_what_to_write() {
        let routes = NativeRoutes::parse(json!({"anthropic": true})).expect("valid");
        assert_eq!(
            routes,
            NativeRoutes {
                anthropic: true,
                openai: false
            }
        );
        let err = NativeRoutes::parse(json!({"google": true})).expect_err("no such family");
        assert!(err.contains("\"anthropic\" and \"openai\""), "{err}");
        let err = NativeRoutes::parse(json!({"openai": "yes"})).expect_err("not a bool");
        assert!(err.starts_with("openai: must be true or false"), "{err}");
        let err = NativeRoutes::parse(json!(true)).expect_err("not an object");
        assert!(err.contains(EXAMPLE), "{err}");
    }
}
