//! Ids for answers: each face names its answers with its own prefix, as the real APIs do.

/// A random id with a face-specific prefix (`chatcmpl-`, `msg_`, `resp_`).
pub fn random(prefix: &str) -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    for _ in 0..24 {
        id.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
    }
    id
}
