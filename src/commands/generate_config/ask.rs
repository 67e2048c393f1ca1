//! Asking on a terminal: each answer is checked as it is given (a JWT already entered, an expired one, a name
//! taken, a key too short to protect anything), in the user's words, and asked again.

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::{MIN_KEY_LEN, new_bearer_token};
use crate::config::{Strategy, explain, placeholder};
use crate::jwt::{self, DecodedJwt};

/// A JWT expiring sooner than this is pointed out when asking (the same margin `check-tokens` warns at).
const EXPIRES_SOON: Duration = Duration::from_secs(24 * 3600);

/// One JWT entered so far: its text and name, to refuse a second one like it.
struct Entered {
    token: String,
    name: String,
}

pub(super) fn ask() -> anyhow::Result<String> {
    use dialoguer::{Input, Select};
    let mut tokens: Vec<Entered> = Vec::new();
    while let Some(token) = ask_token(&tokens)? {
        let default_name = (1..)
            .map(|i| format!("token-{i}"))
            .find(|n| tokens.iter().all(|t| &t.name != n))
            .unwrap_or_default();
        let name: String = Input::new()
            .with_prompt("  name")
            .default(default_name)
            .validate_with(|name: &String| check_name(name, &tokens))
            .interact_text()?;
        tokens.push(Entered {
            token,
            name: name.trim().to_string(),
        });
    }
    if tokens.is_empty() {
        eprintln!("no token entered; the config will have none until you add one");
    }
    let bearer: String = Input::new()
        .with_prompt("Bearer key clients will send (Enter: generate a strong random key)")
        .allow_empty(true)
        .validate_with(|key: &String| check_key(key))
        .interact_text()?;
    let bearer = match bearer.trim() {
        "" => {
            eprintln!("  generated a random key; it is the bearer_token in the config file");
            new_bearer_token()
        }
        key => key.to_string(),
    };
    let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
    let strategy = Select::new()
        .with_prompt("Load balance strategy")
        .items(&names)
        .default(0)
        .interact()?;
    let host: String = Input::new()
        .with_prompt(
            "Listen address (127.0.0.1: this machine only; 0.0.0.0: other machines too, e.g. in a container)",
        )
        .default("127.0.0.1".into())
        .validate_with(|host: &String| check_host(host))
        .interact_text()?;
    let port: String = Input::new()
        .with_prompt("Listen port")
        .default("8080".into())
        .validate_with(|port: &String| check_port(port).map(|_| ()))
        .interact_text()?;
    let interval: String = Input::new()
        .with_prompt("Health check interval")
        .default("30s".into())
        .validate_with(|v: &String| check_interval(v))
        .interact_text()?;
    let value = json!({
        "jetbrains_tokens": tokens
            .iter()
            .map(|t| json!({"token": t.token, "name": t.name}))
            .collect::<Vec<_>>(),
        "bearer_token": bearer,
        "load_balance_strategy": names[strategy],
        "health_check_interval": interval.trim(),
        "server_port": check_port(&port).map_err(anyhow::Error::msg)?,
        "server_host": host.trim(),
    });
    Ok(serde_json::to_string_pretty(&value)? + "\n")
}

/// Asks for the next JWT until one is acceptable; `None` when the user ends the list with an empty entry.
fn ask_token(earlier: &[Entered]) -> anyhow::Result<Option<String>> {
    loop {
        let token: String = dialoguer::Password::new()
            .with_prompt(format!(
                "JetBrains AI JWT #{} (input hidden; Enter on an empty entry to finish)",
                earlier.len() + 1
            ))
            .allow_empty_password(true)
            .interact()?;
        let token = token.trim().to_string();
        if token.is_empty() {
            return Ok(None);
        }
        match judge_token(&token, earlier, SystemTime::now()) {
            TokenAnswer::Refused(why) => eprintln!("  {why}; try again"),
            TokenAnswer::Fine(note) => {
                eprintln!("  ok, {note}");
                return Ok(Some(token));
            }
            TokenAnswer::Doubtful { note, keep_default } => {
                eprintln!("  {note}");
                let keep = dialoguer::Confirm::new()
                    .with_prompt("  Keep it anyway?")
                    .default(keep_default)
                    .interact()?;
                if keep {
                    return Ok(Some(token));
                }
            }
        }
    }
}

/// What to make of an entered JWT.
#[derive(Debug, PartialEq, Eq)]
enum TokenAnswer {
    /// Usable; the note says until when.
    Fine(String),
    /// Not a JWT, or one already entered: ask again.
    Refused(String),
    /// Expired or about to: the user decides.
    Doubtful { note: String, keep_default: bool },
}

fn judge_token(token: &str, earlier: &[Entered], now: SystemTime) -> TokenAnswer {
    if placeholder::is_placeholder(token) {
        return TokenAnswer::Refused("that is an example's placeholder, not a JWT".into());
    }
    let decoded = match DecodedJwt::decode(token) {
        Ok(decoded) => decoded,
        Err(err) => return TokenAnswer::Refused(err.to_string()),
    };
    if let Some((i, first)) = earlier
        .iter()
        .enumerate()
        .find(|(_, e)| crate::secret::KeyDigest::new(&e.token).matches(token))
    {
        return TokenAnswer::Refused(format!(
            "this JWT was already entered as #{} ({})",
            i + 1,
            first.name
        ));
    }
    let Some(exp) = decoded.expires_at() else {
        return TokenAnswer::Fine(
            "it has no exp claim, so jbproxy cannot tell when it expires".into(),
        );
    };
    let when = format!("{} ({})", jwt::relative(exp, now), jwt::rfc3339(exp));
    if exp <= now {
        TokenAnswer::Doubtful {
            note: format!(
                "this JWT expired {when}: jbproxy will not use it unless it can refresh it (license_id and \
authorization, added to the file by hand)"
            ),
            keep_default: false,
        }
    } else if now.checked_add(EXPIRES_SOON).is_none_or(|soon| exp <= soon) {
        TokenAnswer::Doubtful {
            note: format!("this JWT expires soon: {when}"),
            keep_default: true,
        }
    } else {
        TokenAnswer::Fine(format!("expires {when}"))
    }
}

fn check_name(name: &str, earlier: &[Entered]) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("give the token a name; it is how logs and tables refer to it".into());
    }
    match earlier.iter().position(|e| e.name == name) {
        Some(i) => Err(format!(
            "\"{name}\" is already the name of JWT #{}; every token needs its own name",
            i + 1
        )),
        None => Ok(()),
    }
}

fn check_key(key: &str) -> Result<(), String> {
    let key = key.trim();
    if key.is_empty() {
        Ok(())
    } else if placeholder::is_placeholder(key) {
        Err(
            "that is an example's placeholder; type your own key or press Enter to generate one"
                .into(),
        )
    } else if key.chars().count() < MIN_KEY_LEN {
        Err(format!(
            "too short: anyone could guess it; use at least {MIN_KEY_LEN} characters, or press Enter to generate one"
        ))
    } else if key.chars().any(char::is_whitespace) {
        Err("a key cannot contain spaces (clients send it in an HTTP header)".into())
    } else {
        Ok(())
    }
}

fn check_host(host: &str) -> Result<(), String> {
    let host = host.trim();
    if host.is_empty() || host.contains(char::is_whitespace) {
        Err("give an IP address such as 127.0.0.1 or 0.0.0.0, or a host name".into())
    } else {
        Ok(())
    }
}

fn check_port(port: &str) -> Result<u16, String> {
    port.trim()
        .parse()
        .map_err(|_| explain::not_a_port(&format!("\"{}\"", port.trim())))
}

fn check_interval(text: &str) -> Result<(), String> {
    match crate::config::value::parse_duration(text)? {
        d if d < Duration::from_secs(1) => {
            Err("must be at least 1s; checks more often would only load JetBrains AI".into())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_jwt_answer_is_judged_as_it_is_given() {
        let now = SystemTime::now();
        let unix = |delta: i64, now: SystemTime| crate::epoch::secs(now) + delta;
        let good = crate::jwt::unsigned(&json!({ "exp": unix(7 * 86_400, now) }));
        let earlier = [Entered {
            token: good.clone(),
            name: "main".into(),
        }];
        assert!(matches!(
            judge_token(&good, &earlier, now),
            TokenAnswer::Refused(why) if why.contains("already entered as #1 (main)")
        ));
        let expired = crate::jwt::unsigned(&json!({ "exp": unix(-3600, now) }));
        assert!(matches!(
            judge_token(&expired, &[], now),
            TokenAnswer::Doubtful { note, keep_default: false } if note.contains("expired 1h 0m ago")
        ));
        let soon = crate::jwt::unsigned(&json!({ "exp": unix(3600, now) }));
        assert!(matches!(
            judge_token(&soon, &[], now),
            TokenAnswer::Doubtful {
                keep_default: true,
                ..
            }
        ));
        assert!(matches!(judge_token(&good, &[], now), TokenAnswer::Fine(_)));
        assert!(matches!(
            judge_token("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9...", &[], now),
            TokenAnswer::Refused(why) if why.contains("placeholder")
        ));
        assert!(matches!(
            judge_token(&format!("Bearer {good}"), &[], now),
            TokenAnswer::Refused(why) if why.contains("without the prefix")
        ));
    }

    #[test]
    fn answers_are_checked_in_the_users_words() {
        let earlier = [Entered {
            token: "t".into(),
            name: "main".into(),
        }];
        assert!(check_name("main", &earlier).is_err_and(|e| e.contains("already the name")));
        assert!(check_name("spare", &earlier).is_ok());
        assert!(check_key("x").is_err_and(|e| e.contains("too short")));
        assert!(check_key("your_bearer_token").is_err_and(|e| e.contains("placeholder")));
        assert!(check_key("").is_ok());
        assert!(check_key("sk-a-long-enough-key-1234").is_ok());
        assert_eq!(
            check_port("eighty"),
            Err("\"eighty\" is not a port number; use a whole number from 0 to 65535".into())
        );
        assert_eq!(check_port(" 9000 "), Ok(9000));
        assert!(check_interval("often").is_err_and(|e| e.contains("expected e.g. 30s")));
        assert!(check_interval("10ms").is_err_and(|e| e.contains("at least 1s")));
    }
}
