//! Anthropic tool definitions → tools. Server tools (a `type` other than `custom`) are refused: the upstream cannot
//! run them.

use serde::Deserialize;

use super::blocks::non_empty;
use crate::translate::conversation::Tool;
use crate::translate::parse::{Convert, Schema, Text};
use crate::translate::{TranslateError, truncate};

#[derive(Deserialize)]
pub(super) struct WireTool<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    description: Option<Text<'a>>,
    #[serde(default)]
    input_schema: Schema,
}

impl<'a> WireTool<'a> {
    fn into_tool(self, i: usize) -> Result<Tool<'a>, TranslateError> {
        let at = format!("tools[{i}]");
        if let Some(kind) = &self.kind
            && kind.as_str() != "custom"
        {
            return Err(TranslateError::at(
                format!("{at}.type"),
                format!(
                    "server tool {:?} is not supported; JetBrains AI runs no tools itself, so only client tools (with an input_schema) can be used",
                    truncate(kind.as_str())
                ),
            ));
        }
        Ok(Tool {
            name: non_empty(self.name, &at, "name")?,
            description: self.description.map(Text::into_cow),
            schema: self.input_schema.0,
        })
    }
}

/// `tool_choice` as sent: `{"type": "auto" | "any" | "none"}` or `{"type": "tool", "name"}`. Anything else is
/// accepted and means nothing, as before jbproxy read this field.
impl<'a> Convert for WireTool<'a> {
    const ARRAY: &'static str = "an array of tools";
    const NOT_AN_OBJECT: &'static str = "must be an object";
    type Output = Tool<'a>;

    fn convert(self, index: usize) -> Result<Tool<'a>, TranslateError> {
        self.into_tool(index)
    }
}
