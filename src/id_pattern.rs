//! Id patterns: the globs config keys use to match a model or profile id (`*` any text, `?` one character, `[…]` a
//! class), one matcher (the `glob` crate's) for `model_fallback`, `profile_parameters` and the built-in tables alike.

pub use glob::Pattern;

/// `text` as a pattern, or an error that says what is wrong and how to write one.
pub fn parse(text: &str) -> Result<Pattern, String> {
    Pattern::new(text).map_err(|err| {
        format!(
            "pattern \"{text}\" is not a valid glob ({}): use * for any text, ? for one character",
            err.msg
        )
    })
}

/// Whether `text` is a pattern rather than one exact id: an exact id is more specific than any pattern.
pub fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, id: &str) -> bool {
        parse(pattern).expect("a valid pattern").matches(id)
    }

    #[test]
    fn star_question_mark_and_classes() {
        assert!(matches("*", ""));
        assert!(matches("openai-*codex*", "openai-gpt-5-1-codex-mini"));
        assert!(!matches("openai-*codex*", "openai-gpt-5"));
        assert!(matches("a*b*c", "abc"));
        assert!(!matches("a*bb", "ab"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
        assert!(matches("openai-gpt-4?", "openai-gpt-4o"));
        assert!(!matches("openai-gpt-4?", "openai-gpt-4"));
        assert!(matches("google-gemini-[23]-*", "google-gemini-3-0-pro"));
        assert!(!matches("google-gemini-[23]-*", "google-gemini-1-5-pro"));
    }

    #[test]
    fn a_broken_pattern_says_how_to_write_one() {
        let err = parse("claude-[opus").expect_err("refused");
        assert!(
            err.starts_with("pattern \"claude-[opus\" is not a valid glob ("),
            "{err}"
        );
        assert!(
            err.ends_with("use * for any text, ? for one character"),
            "{err}"
        );
        assert!(is_pattern("a?") && is_pattern("a*") && is_pattern("[ab]") && !is_pattern("exact"));
    }
}
