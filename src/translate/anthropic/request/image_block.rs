//! Anthropic `image` blocks → checked images: a base64 source, or a `data:` URL (remote images are never fetched).

use serde::Deserialize;

use crate::translate::conversation::{Image, Source};
use crate::translate::parse::{AnObject, Text};
use crate::translate::{TranslateError, image, truncate};

/// An image block's `source`.
#[derive(Deserialize)]
pub(super) struct ImageSource<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<Text<'a>>,
    #[serde(default, borrow)]
    media_type: Option<Text<'a>>,
    #[serde(default, borrow)]
    data: Option<Text<'a>>,
    #[serde(default, borrow)]
    url: Option<Text<'a>>,
}

/// `image {source: {type: "base64", media_type, data}}`, checked like any image (type, base64, size). A `url`
/// source is read as a URL: a `data:` URL is accepted, a remote one refused (remote images are never fetched).
pub(super) fn image_block<'a>(
    source: Option<AnObject<ImageSource<'a>>>,
    at: Source,
) -> Result<Image<'a>, TranslateError> {
    let source_at = at.field(".source");
    let Some(AnObject(source)) = source else {
        return Err(TranslateError::at(source_at, "is required (an object)"));
    };
    let checked = match source.kind.as_ref().map(Text::as_str) {
        Some("base64") => {
            let Some(media_type) = source.media_type else {
                return Err(TranslateError::at(
                    format!("{source_at}.media_type"),
                    "is required (a string)",
                ));
            };
            let Some(data) = source.data else {
                return Err(TranslateError::at(
                    format!("{source_at}.data"),
                    "is required (a string)",
                ));
            };
            image::from_base64(media_type.as_str(), data.into_cow())
        }
        Some("url") => {
            let Some(url) = source.url else {
                return Err(TranslateError::at(
                    format!("{source_at}.url"),
                    "is required (a string)",
                ));
            };
            if !url.as_str().trim_start().starts_with("data:") {
                return Err(TranslateError::at(
                    format!("{source_at}.url"),
                    "image URLs are not fetched (jbproxy never downloads images): send the image inline as a \
                     base64 source, {\"type\": \"base64\", \"media_type\": \"image/png\", \"data\": …}",
                ));
            }
            image::from_data_url(url.into_cow())
        }
        Some(other) => {
            return Err(TranslateError::at(
                format!("{source_at}.type"),
                format!(
                    "unsupported image source {:?}; send the image inline as {{\"type\":\"base64\",\"media_type\",\"data\"}}",
                    truncate(other)
                ),
            ));
        }
        None => {
            return Err(TranslateError::at(
                format!("{source_at}.type"),
                "is required (\"base64\")",
            ));
        }
    };
    checked.map_err(|message| TranslateError::at(source_at, message))
}
