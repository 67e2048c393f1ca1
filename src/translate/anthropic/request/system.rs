//! The Anthropic system prompt (`system`, and `system` messages inside `messages`) → text parts, leaving out the
//! client metadata some clients put there.

use super::blocks::{Block, Blocks, block_type, take_text};
use crate::translate::conversation::{Part, Root, Source};
use crate::translate::parse::TextOr;
use crate::translate::{TranslateError, truncate};

/// System blocks that are client metadata, not instructions for the model: a block whose text starts with one of
/// these is left out. Claude Code puts `x-anthropic-billing-header: cc_version=…; cc_entrypoint=…;` first in
/// `system` (tests/fixtures/agents/README.md); Anthropic's API reads it as billing data, a model would read it as
/// part of its prompt.
pub const CLIENT_METADATA: &[&str] = &["x-anthropic-billing-header:"];

fn is_client_metadata(text: &str) -> bool {
    let text = text.trim_start();
    CLIENT_METADATA
        .iter()
        .any(|prefix| text.starts_with(prefix))
}

/// The system prompt's parts: a string is one text part; blocks must be text blocks. Client metadata is left out.
pub(super) fn system_parts(system: Blocks<'_>) -> Result<Vec<Part<'_>>, TranslateError> {
    let blocks = match system {
        TextOr::Text(text) if is_client_metadata(&text) => return Ok(Vec::new()),
        TextOr::Text(text) => return Ok(vec![Part::text(Source::root(Root::System), text)]),
        TextOr::List(blocks) => blocks,
    };
    system_blocks(blocks, |j| Source::at(Root::System, j), "system block")
}

/// A `system` message's content: a string, or text blocks. Client metadata is left out here too.
pub(super) fn system_message(
    content: Blocks<'_>,
    at: Source,
) -> Result<Vec<Part<'_>>, TranslateError> {
    match content {
        TextOr::Text(text) if is_client_metadata(&text) => Ok(Vec::new()),
        TextOr::Text(text) => Ok(vec![Part::text(at, text)]),
        TextOr::List(blocks) => system_blocks(blocks, |j| at.child(j), "block in a system message"),
    }
}

fn system_blocks<'a>(
    blocks: Vec<Block<'a>>,
    at: impl Fn(usize) -> Source,
    what: &str,
) -> Result<Vec<Part<'a>>, TranslateError> {
    let mut parts = Vec::with_capacity(blocks.len());
    for (j, block) in blocks.into_iter().enumerate() {
        let at = at(j);
        match block_type(&block, &at)? {
            "text" => {
                let text = take_text(block.text, &at)?;
                if !is_client_metadata(&text) {
                    parts.push(Part::text(at, text));
                }
            }
            other => {
                return Err(TranslateError::at(
                    at.field(".type"),
                    format!(
                        "unsupported {what} type {:?}; only \"text\" is allowed",
                        truncate(other)
                    ),
                ));
            }
        }
    }
    Ok(parts)
}
