//! check-tokens: the verdicts offline and online, and how each is shown.

use super::*;

fn token(name: &str, text: &str) -> TokenConfig {
    TokenConfig::new(name, text)
}

#[test]
fn an_entry_with_only_refresh_credentials_has_no_jwt_yet_and_does_not_fail() {
    let mut entry = token("a", "");
    entry.license_id = Some("lic".into());
    entry.refresh_token = Some(secrecy::SecretString::from("rt-0123456789"));
    let verdicts = judge(
        &[entry.clone()],
        "file",
        Duration::from_secs(86_400),
        SystemTime::now(),
    );
    assert!(matches!(verdicts[0], Verdict::NoJwtYet));
    assert!(!verdicts[0].failed());
    assert!(
        super::online::worth_asking(&entry, &verdicts[0]),
        "--online runs its chain"
    );
}

#[test]
fn an_expired_jwt_with_refresh_credentials_is_refreshable_and_does_not_fail() {
    let now = SystemTime::now();
    let old = crate::jwt::unsigned(&json!({ "exp": crate::epoch::secs(now) - 3600 }));
    let mut chain = token("chain", &old);
    chain.license_id = Some("lic".into());
    chain.refresh_token = Some(secrecy::SecretString::from("rt-0123456789"));
    let mut fixed = token("fixed", &crate::jwt::unsigned(&json!({ "exp": 1 })));
    fixed.license_id = Some("lic".into());
    fixed.authorization = Some(secrecy::SecretString::from("id-token"));
    let verdicts = judge(&[chain.clone(), fixed], "file", Duration::ZERO, now);
    assert_eq!(verdicts, [Verdict::Refreshable, Verdict::Refreshable]);
    assert!(!verdicts[0].failed());
    assert!(super::online::worth_asking(&chain, &verdicts[0]));
    assert_eq!(
        detail(&verdicts[0], chain.expires_at(), now),
        "expired 1h 0m ago: serve gets a new JWT through the refresh chain at start (--online tests it)"
    );
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
