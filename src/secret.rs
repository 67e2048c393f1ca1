//! Secret handling: how a token or key is named in output (a fingerprint), and how client keys are compared.
//!
//! A secret never appears whole anywhere a person or log can read it. The fingerprint is the first 8 hex digits of
//! the secret's SHA-256: short enough to read, long enough to tell tokens apart, and useless to an attacker.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The short, stable name of a secret for logs, tables and errors: `sha256:1a2b3c4d`.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(15);
    out.push_str("sha256:");
    for byte in &digest[..4] {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// The whole SHA-256 of a secret in hex: a stable key for it (the state file's), useless to an attacker.
pub fn digest_hex(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A secret as it may be shown: never its text, only that it is set and its fingerprint.
pub fn redacted(secret: &str) -> String {
    format!("<redacted {}>", fingerprint(secret))
}

/// A URL as it may be shown: any userinfo (`user:password@`) replaced by `<redacted>`. Works on text that does not
/// parse as a URL too, since it is also used in the error that says so.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_len = url[scheme_end..]
        .find(['/', '?', '#'])
        .unwrap_or(url.len() - scheme_end);
    let authority = &url[scheme_end..scheme_end + authority_len];
    match authority.rfind('@') {
        Some(at) => format!(
            "{}<redacted>{}",
            &url[..scheme_end],
            &url[scheme_end + at..]
        ),
        None => url.to_string(),
    }
}

/// A client key held in a form that can be compared in constant time, whatever the lengths involved.
///
/// Both sides are hashed first so the comparison neither leaks the expected key's length nor stops early.
#[derive(Clone)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    pub fn new(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0.ct_eq(&presented).into()
    }
}

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyDigest(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_short_stable_and_hides_the_secret() {
        let fp = fingerprint("eyJhbGciOiJIUzI1NiJ9.payload.sig");
        assert_eq!(fp, fingerprint("eyJhbGciOiJIUzI1NiJ9.payload.sig"));
        assert_eq!(fp.len(), "sha256:".len() + 8);
        assert!(!fp.contains("payload"));
        assert_ne!(fp, fingerprint("another"));
    }

    #[test]
    fn url_userinfo_is_redacted_and_the_rest_kept() {
        assert_eq!(
            redact_url("https://user:pa%40ss@api.example:8443/p?q=1"),
            "https://<redacted>@api.example:8443/p?q=1"
        );
        assert_eq!(redact_url("http://tok@h"), "http://<redacted>@h");
        assert_eq!(
            redact_url("ftp://u:p@ bad url"),
            "ftp://<redacted>@ bad url"
        );
        assert_eq!(
            redact_url("https://api.jetbrains.ai"),
            "https://api.jetbrains.ai"
        );
        assert_eq!(redact_url("https://h/path@x"), "https://h/path@x");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn key_digest_matches_only_the_same_key() {
        let key = KeyDigest::new("sk-right");
        assert!(key.matches("sk-right"));
        assert!(!key.matches("sk-wrong"));
        assert!(!key.matches(""));
        assert!(!format!("{key:?}").contains("sk-right"));
    }
}
