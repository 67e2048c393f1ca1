//! The fields a Response object repeats from its request, with the defaults OpenAI states for those left out.

use serde_json::{Map, Value, json};

/// The fields a Response object repeats from its request.
pub(super) struct Echo {
    pub(super) instructions: Option<String>,
    pub(super) tools: Vec<Value>,
    pub(super) tool_choice: Option<Value>,
    pub(super) temperature: Option<f64>,
    pub(super) top_p: Option<f64>,
    pub(super) max_output_tokens: Option<u32>,
    pub(super) parallel_tool_calls: Option<bool>,
    pub(super) metadata: Option<Map<String, Value>>,
    pub(super) format: Option<Map<String, Value>>,
    pub(super) verbosity: Option<String>,
    pub(super) reasoning: Option<Value>,
}

impl Echo {
    /// The fields as the answer states them: defaults filled in as OpenAI states them, and `store` false, since
    /// nothing is stored.
    pub(super) fn into_map(self) -> Map<String, Value> {
        let format = self
            .format
            .map_or_else(|| json!({"type": "text"}), Value::Object);
        let mut text = json!({"format": format});
        if let Some(verbosity) = self.verbosity {
            text["verbosity"] = verbosity.into();
        }
        let mut echo = Map::new();
        echo.insert("instructions".into(), json!(self.instructions));
        echo.insert("tools".into(), Value::Array(self.tools));
        echo.insert(
            "tool_choice".into(),
            self.tool_choice
                .filter(|c| !c.is_null())
                .unwrap_or_else(|| json!("auto")),
        );
        echo.insert("temperature".into(), json!(self.temperature));
        echo.insert("top_p".into(), json!(self.top_p));
        echo.insert(
            "parallel_tool_calls".into(),
            json!(self.parallel_tool_calls.unwrap_or(true)),
        );
        echo.insert("metadata".into(), json!(self.metadata));
        echo.insert("max_output_tokens".into(), json!(self.max_output_tokens));
        echo.insert("text".into(), text);
        echo.insert("reasoning".into(), json!(self.reasoning));
        echo.insert("store".into(), json!(false));
        echo.insert("background".into(), json!(false));
        echo.insert("truncation".into(), json!("disabled"));
        echo.insert("previous_response_id".into(), Value::Null);
        echo
    }
}
