//! Images from any face: inline `data:` URLs (OpenAI) or base64 with a media type (Anthropic), of png, jpeg, gif
//! or webp, valid base64 within the size limit. Remote URLs are refused rather than fetched: a proxy that fetches
//! arbitrary URLs is an SSRF hole. Errors are plain messages; the face adds the path.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use super::conversation::Image;

/// The largest image accepted, decoded.
pub const MAX_IMAGE_BYTES: usize = 20 * 1024 * 1024;

/// Standard alphabet; padding optional, since clients differ.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The image in a `data:` URL. The data is the URL's tail, borrowed when the URL was.
pub fn from_data_url(url: Cow<'_, str>) -> Result<Image<'_>, String> {
    let (media_type, data_len) = parse_data_url(&url).map(|(m, data)| (m, data.len()))?;
    let start = url.len() - data_len;
    let data = match url {
        Cow::Borrowed(url) => Cow::Borrowed(&url[start..]),
        Cow::Owned(mut url) => {
            url.drain(..start);
            Cow::Owned(url)
        }
    };
    Ok(Image { media_type, data })
}

/// An image given as a media type and base64 data (Anthropic's `source`), checked as a data URL would be.
pub fn from_base64<'a>(media_type: &str, data: Cow<'a, str>) -> Result<Image<'a>, String> {
    let media_type = known_type(media_type.trim())?;
    check_base64(&data)?;
    Ok(Image { media_type, data })
}

fn known_type(mime: &str) -> Result<&'static str, String> {
    media_type(mime).ok_or_else(|| {
        format!(
            "unsupported image type {:?}; use png, jpeg, gif or webp",
            super::truncate(mime)
        )
    })
}

fn parse_data_url(url: &str) -> Result<(&'static str, &str), String> {
    let scheme_end = url.find(':').unwrap_or(0);
    let scheme = &url[..scheme_end];
    if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
        return Err(
            "remote image URLs are not fetched; send the image inline as a data URL \
                    (data:image/png;base64,...)"
                .into(),
        );
    }
    if !scheme.eq_ignore_ascii_case("data") {
        return Err("must be a data URL (data:image/png;base64,...)".into());
    }
    let Some((header, data)) = url[scheme_end + 1..].split_once(',') else {
        return Err("is not a valid data URL (no comma before the data)".into());
    };
    let mut params = header.split(';');
    let mime = params.next().unwrap_or_default().trim();
    if !params.any(|p| p.trim().eq_ignore_ascii_case("base64")) {
        return Err("data URL must be base64-encoded (data:image/png;base64,...)".into());
    }
    let media_type = known_type(mime)?;
    check_base64(data)?;
    Ok((media_type, data))
}

fn media_type(mime: &str) -> Option<&'static str> {
    const TYPES: [(&str, &str); 5] = [
        ("image/png", "image/png"),
        ("image/jpeg", "image/jpeg"),
        ("image/jpg", "image/jpeg"),
        ("image/gif", "image/gif"),
        ("image/webp", "image/webp"),
    ];
    TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(mime))
        .map(|&(_, canonical)| canonical)
}

/// Checks that `data` is valid base64 of at most [`MAX_IMAGE_BYTES`] without holding the decoded image: the size
/// follows from the length, and validity is checked by decoding 4 KiB at a time into a stack buffer.
fn check_base64(data: &str) -> Result<(), String> {
    let bytes = data.as_bytes();
    let unpadded = bytes.len()
        - bytes
            .iter()
            .rev()
            .take(2)
            .take_while(|&&b| b == b'=')
            .count();
    let decoded = unpadded / 4 * 3 + (unpadded % 4).saturating_sub(1);
    if decoded > MAX_IMAGE_BYTES {
        return Err(format!(
            "image is {:.1} MiB decoded; the limit is {} MiB",
            decoded as f64 / (1024.0 * 1024.0),
            MAX_IMAGE_BYTES / (1024 * 1024)
        ));
    }
    if bytes.is_empty() {
        return Err("image data is empty".into());
    }
    // Chunks are a multiple of 4 characters, so only the last one can hold padding.
    let mut buf = [0u8; 3072];
    for chunk in bytes.chunks(4096) {
        BASE64
            .decode_slice(chunk, &mut buf)
            .map_err(|_| "image data is not valid base64".to_owned())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_four_types() {
        for (mime, canonical) in [
            ("image/png", "image/png"),
            ("image/jpeg", "image/jpeg"),
            ("image/jpg", "image/jpeg"),
            ("IMAGE/GIF", "image/gif"),
            ("image/webp", "image/webp"),
        ] {
            assert_eq!(
                parse_data_url(&format!("data:{mime};base64,iVBORw0KGgo=")),
                Ok((canonical, "iVBORw0KGgo="))
            );
        }
    }

    #[test]
    fn rejects_other_types() {
        let err = parse_data_url("data:image/svg+xml;base64,PHN2Zz4=").unwrap_err();
        assert!(
            err.contains("unsupported image type \"image/svg+xml\""),
            "{err}"
        );
        assert!(parse_data_url("data:application/pdf;base64,JVBE").is_err());
    }

    #[test]
    fn rejects_remote_and_non_base64_urls() {
        let err = parse_data_url("https://example.com/cat.png").unwrap_err();
        assert!(
            err.contains("remote image URLs are not fetched") && err.contains("data URL"),
            "{err}"
        );
        assert!(
            parse_data_url("HTTP://example.com/cat.png")
                .unwrap_err()
                .contains("not fetched")
        );
        assert!(
            parse_data_url("data:image/png,rawbytes")
                .unwrap_err()
                .contains("base64")
        );
        assert!(
            parse_data_url("ftp://x/y.png")
                .unwrap_err()
                .contains("must be a data URL")
        );
        assert!(
            parse_data_url("data:image/png;base64")
                .unwrap_err()
                .contains("no comma")
        );
    }

    #[test]
    fn rejects_invalid_base64() {
        assert!(
            parse_data_url("data:image/png;base64,not base64!")
                .unwrap_err()
                .contains("not valid base64")
        );
        assert!(
            parse_data_url("data:image/png;base64,")
                .unwrap_err()
                .contains("empty")
        );
        // Padding in the middle of a long value (it lands in a non-final chunk).
        let bad = format!("{}AA==", "A".repeat(4096)) + &"A".repeat(4096);
        assert!(check_base64(&bad).is_err());
    }

    #[test]
    fn padding_is_optional() {
        assert!(check_base64("iVBORw0KGgo").is_ok());
        assert!(check_base64("iVBORw0KGgo=").is_ok());
        assert!(check_base64(&"QUJD".repeat(5000)).is_ok());
    }

    #[test]
    fn size_limit_is_on_decoded_bytes() {
        // The largest whole number of 4-character groups under the limit, then one group more.
        let at_limit = "A".repeat(MAX_IMAGE_BYTES / 3 * 4);
        assert!(check_base64(&at_limit).is_ok());
        let over = "A".repeat((MAX_IMAGE_BYTES / 3 + 1) * 4);
        let err = check_base64(&over).unwrap_err();
        assert!(err.contains("the limit is 20 MiB"), "{err}");
    }
}
