//! check-tokens: the verdicts offline and online, and how each is shown.

use super::*;

fn token(name: &str, text: &str) -> TokenConfig {
    TokenConfig::new(name, text)
}

#[test]
fn judges_shape_expiry_and_duplicates() {
    let now = SystemTime::now();
    let unix = |d: i64| crate::epoch::secs(now) + d;
    let good = crate::jwt::unsigned(&json!({ "exp": unix(7 * 86_400) }));
    let tokens = [
        token("good", &good),
        token("soon", &crate::jwt::unsigned(&json!({ "exp": unix(3600) }))),
        token("old", &crate::jwt::unsigned(&json!({ "exp": unix(-60) }))),
        token("junk", "not-a-jwt"),
        token("again", &good),
    ];
    let verdicts = judge(&tokens, "test", Duration::from_secs(86_400), now);
    assert_eq!(verdicts[0], Verdict::Ok);
    assert_eq!(verdicts[1], Verdict::ExpiresSoon);
    assert_eq!(verdicts[2], Verdict::Expired);
    assert!(matches!(verdicts[3], Verdict::Malformed(_)));
    assert_eq!(verdicts[4], Verdict::Duplicate("good".into()));
}

#[test]
fn placeholders_are_named_as_such_and_never_duplicates() {
    let tokens = [
        token("Primary_JWT", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9..."),
        token("Secondary_JWT", "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9..."),
    ];
    let verdicts = judge(&tokens, ".env (line 7)", Duration::ZERO, SystemTime::now());
    let placeholder = Verdict::Placeholder(".env (line 7)".into());
    assert_eq!(verdicts, [placeholder.clone(), placeholder.clone()]);
    assert!(placeholder.failed());
    assert_eq!(
        detail(&placeholder, None, SystemTime::now()),
        "placeholder value from .env (line 7); put your JetBrains AI JWT there"
    );
}

#[test]
fn a_huge_warn_within_does_not_overflow_the_clock() {
    // Regression: `--warn-within 500000000000y` panicked adding the duration to now.
    let far = crate::jwt::unsigned(&json!({ "exp": 4_000_000_000_i64 }));
    let verdicts = judge(
        &[token("far", &far)],
        "test",
        Duration::MAX,
        SystemTime::now(),
    );
    assert_eq!(verdicts, [Verdict::ExpiresSoon]);
}
