//! Token estimates. The upstream reports no token counts at all (only quota credits, which are not tokens), so every
//! `usage` number jbproxy returns is an estimate from this module, and the docs say so.

/// Bytes of UTF-8 text per estimated token.
///
/// About 4 for English with the common BPE tokenizers. Counting bytes rather than characters is deliberate: it is
/// O(1) on a `str`, and non-Latin scripts (2-4 bytes per character) come out at 1-1.3 characters per token, which is
/// closer to what tokenizers do for them than a per-character count would be.
pub const BYTES_PER_TOKEN: usize = 4;

/// Estimated tokens for `text`: one per started [`BYTES_PER_TOKEN`] bytes, so any non-empty text counts at least 1,
/// and the empty text 0. An estimate only: the upstream reports no token counts.
pub fn estimate_tokens(text: &str) -> u32 {
    tokens_for_bytes(text.len())
}

/// Same as [`estimate_tokens`] for text known only by its UTF-8 length (for example, the sum of many stream deltas,
/// which is estimated once as a whole rather than rounded up per delta).
pub fn tokens_for_bytes(len: usize) -> u32 {
    u32::try_from(len.div_ceil(BYTES_PER_TOKEN)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_is_zero_tokens() {
        assert_eq!(estimate_tokens(""), 0);
    }

    #[test]
    fn short_text_is_at_least_one_token() {
        assert_eq!(estimate_tokens("a"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
    }

    #[test]
    fn estimate_is_about_four_bytes_per_token() {
        assert_eq!(estimate_tokens(&"x".repeat(400)), 100);
    }

    #[test]
    fn non_latin_text_counts_by_bytes() {
        // Three CJK characters, 9 bytes: 3 tokens, not 1.
        assert_eq!(estimate_tokens("日本語"), 3);
    }

    #[test]
    fn huge_lengths_saturate() {
        assert_eq!(tokens_for_bytes(usize::MAX), u32::MAX);
    }
}
