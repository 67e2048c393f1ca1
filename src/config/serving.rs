//! What a config must satisfy before it may serve, checked at start-up and again on every reload (against the
//! address actually bound), so no reload can produce a server that start-up would have refused to run; and which
//! settings only take effect at start-up, so a reload can say that they need a restart.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use secrecy::{ExposeSecret, SecretString};

use super::{Config, Source};

/// Why a config may not serve. The message says what to change.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(String);

/// Refuses a config that has no token to serve with, or that would leave a non-loopback listener without a client
/// key. `bound` is the address the server listens on, once it does; the configured host is checked too, since a
/// restart would listen there.
///
/// May resolve `server_host` when it is a name, so call it where blocking is fine.
pub fn check(config: &Config, bound: Option<SocketAddr>) -> Result<(), Refused> {
    if config.tokens.is_empty() {
        return Err(Refused(
            "no JetBrains AI JWTs configured; create a config with `jbproxy generate-config`, pass them with -c or \
JWT_TOKENS, or try `jbproxy serve --demo`"
                .into(),
        ));
    }
    if !config.tokens.iter().any(|t| t.enabled) {
        return Err(Refused(format!(
            "all {} token(s) in jetbrains_tokens are disabled (`\"enabled\": false`), so every request would fail; \
enable at least one",
            config.tokens.len()
        )));
    }
    let placeholder = |s: &SecretString| super::placeholder::is_placeholder(s.expose_secret());
    if config.tokens.iter().all(|t| placeholder(&t.token)) {
        return Err(Refused(format!(
            "every configured token is a placeholder value from {}; put your JetBrains AI JWTs there, or try \
`jbproxy serve --demo`",
            config.origin_of("jetbrains_tokens")
        )));
    }
    // A placeholder key from an example file protects nothing: it counts as no key.
    if config
        .bearer_token
        .as_ref()
        .is_some_and(|k| !placeholder(k))
    {
        return Ok(());
    }
    let exposed = match bound {
        Some(addr) if !is_loopback_ip(addr.ip()) => Some(addr.to_string()),
        _ if !is_loopback_host(&config.start_up.server_host) => {
            Some(config.start_up.server_host.clone())
        }
        _ => None,
    };
    match exposed {
        Some(address) => Err(Refused(format!(
            "no bearer_token set while listening on {address}: anyone who can reach it could spend your JWTs; set \
bearer_token (or -k / BEARER_TOKEN), or listen on 127.0.0.1"
        ))),
        None => Ok(()),
    }
}

/// Loopback however it is written: `127.0.0.1` and the rest of 127/8, `::1`, IPv4-mapped `::ffff:127.0.0.1`.
pub fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Whether `host` (as `server_host` or `--host` gives it) means this machine only. An address is judged as
/// written; a name by what it resolves to (`localhost`, `127.1`), and only if every address it resolves to is
/// loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim().trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return is_loopback_ip(ip);
    }
    match (bare, 0).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            !addrs.is_empty() && addrs.iter().all(|a| is_loopback_ip(a.ip()))
        }
        Err(_) => false,
    }
}

/// Puts the running start-up settings (see `StartUp`) back into `new`, so what the server reports is what it does,
/// and returns the keys whose new value differed: those need a restart.
pub fn keep_start_up_settings(running: &Config, new: &mut Config) -> Vec<&'static str> {
    let changed = running.start_up.changed(&new.start_up);
    new.start_up = running.start_up.clone();
    for key in &changed {
        new.sources.insert(
            key,
            running.sources.get(key).cloned().unwrap_or(Source::Default),
        );
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Env, Overrides, TokenConfig};
    use secrecy::SecretString;

    fn config(host: &str) -> Config {
        let overrides = Overrides {
            jwt_tokens: Some("a.b.c".into()),
            host: Some(host.into()),
            ..Overrides::default()
        };
        crate::config::load(&overrides, &Env::default()).expect("config")
    }

    #[test]
    fn loopback_in_every_spelling() {
        for host in [
            "127.0.0.1",
            "127.0.0.2",
            "::1",
            "[::1]",
            "::ffff:127.0.0.1",
            "[::ffff:127.0.0.1]",
            "0:0:0:0:0:0:0:1",
            "localhost",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "0.0.0.0",
            "::",
            "::ffff:10.0.0.1",
            "192.168.1.1",
            "no-such-host.invalid",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn no_key_is_refused_on_an_exposed_listener_configured_or_bound() {
        let exposed = config("0.0.0.0");
        let err = check(&exposed, None).unwrap_err().to_string();
        assert!(
            err.contains("no bearer_token set while listening on 0.0.0.0"),
            "{err}"
        );
        let local = config("127.0.0.1");
        assert!(check(&local, Some("127.0.0.1:8080".parse().expect("addr"))).is_ok());
        assert!(
            check(
                &local,
                Some("[::ffff:127.0.0.1]:8080".parse().expect("addr"))
            )
            .is_ok()
        );
        let err = check(&local, Some("0.0.0.0:8080".parse().expect("addr")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("0.0.0.0:8080"), "{err}");
        let mut keyed = config("0.0.0.0");
        keyed.bearer_token = Some(SecretString::from("k".repeat(32)));
        assert!(check(&keyed, Some("0.0.0.0:8080".parse().expect("addr"))).is_ok());
    }

    #[test]
    fn no_token_or_only_disabled_ones_is_refused() {
        let mut none = config("127.0.0.1");
        none.tokens.clear();
        assert!(
            check(&none, None)
                .unwrap_err()
                .to_string()
                .contains("no JetBrains AI JWTs")
        );
        let mut disabled = config("127.0.0.1");
        disabled.tokens = vec![TokenConfig {
            enabled: false,
            ..TokenConfig::new("a", "a.b.c")
        }];
        assert!(
            check(&disabled, None)
                .unwrap_err()
                .to_string()
                .contains("disabled")
        );
    }

    #[test]
    fn start_up_settings_keep_their_running_values_and_are_named() {
        let running = config("127.0.0.1");
        let mut new = config("::1");
        new.start_up.server_port = 9999;
        new.max_body_size = 4096;
        let changed = keep_start_up_settings(&running, &mut new);
        assert_eq!(changed, ["server_host", "server_port"]);
        assert_eq!(new.start_up.server_host, "127.0.0.1");
        assert_eq!(new.start_up.server_port, running.start_up.server_port);
        assert_eq!(new.max_body_size, 4096, "reloadable settings take effect");
    }
}
