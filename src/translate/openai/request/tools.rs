//! OpenAI tool definitions → tools. Only `function` tools exist upstream; anything else is refused rather than
//! silently dropped.

use serde::Deserialize;

use super::messages::non_empty;
use crate::translate::TranslateError;
use crate::translate::conversation::Tool;
use crate::translate::parse::{AnObject, Convert, Schema, Text};

#[derive(Deserialize)]
pub(super) struct WireTool<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    function: Option<AnObject<WireFunction<'a>>>,
}

#[derive(Deserialize)]
struct WireFunction<'a> {
    #[serde(default, borrow)]
    name: Option<Text<'a>>,
    #[serde(default, borrow)]
    description: Option<Text<'a>>,
    #[serde(default)]
    parameters: Schema,
}

impl<'a> WireTool<'a> {
    fn into_tool(self, i: usize) -> Result<Tool<'a>, TranslateError> {
        let at = format!("tools[{i}]");
        match self.kind.as_ref().map(Text::as_str) {
            Some("function") => {}
            Some(other) => {
                return Err(TranslateError::at(
                    format!("{at}.type"),
                    format!(
                        "unsupported tool type {:?}; only \"function\" tools are supported",
                        crate::translate::truncate(other)
                    ),
                ));
            }
            None => {
                return Err(TranslateError::at(
                    format!("{at}.type"),
                    "is required (\"function\")",
                ));
            }
        }
        let Some(AnObject(function)) = self.function else {
            return Err(TranslateError::at(
                format!("{at}.function"),
                "is required (an object)",
            ));
        };
        Ok(Tool {
            name: non_empty(function.name, || format!("{at}.function.name"))?,
            description: function.description.map(Text::into_cow),
            schema: function.parameters.0,
        })
    }
}

impl<'a> Convert for WireTool<'a> {
    const ARRAY: &'static str = "an array of tools";
    const NOT_AN_OBJECT: &'static str = "must be an object";
    type Output = Tool<'a>;

    fn convert(self, index: usize) -> Result<Tool<'a>, TranslateError> {
        self.into_tool(index)
    }
}
