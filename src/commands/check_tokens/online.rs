//! `check-tokens --online`: for each token worth asking, refresh it through its chain when it has one, then ask the
//! quota endpoint whether the JWT works and `profiles/v8` how many models it can use; the answer amends the
//! offline verdict.

use super::*;

/// What `--online` learnt about one token.
pub(super) struct Online {
    /// For a token with refresh credentials: whether its chain gave a JWT (else why not).
    pub(super) refresh: Option<Result<(), String>>,
    /// What the quota endpoint said about the JWT (the refreshed one where there is one); `None` when the refresh
    /// failed, so there was no JWT to ask with.
    pub(super) quota: Option<Result<QuotaInfo, UpstreamError>>,
    /// How many profiles `profiles/v8` listed; `None` when it was not asked (the JWT does not work) or failed.
    pub(super) models: Option<usize>,
    /// When the JWT the chain just gave expires: what the table shows instead of the configured JWT's expiry.
    pub(super) refreshed_expiry: Option<SystemTime>,
}

/// One online check per token: `None` where the offline verdict already settles it (disabled, malformed,
/// duplicate, or expired without refresh credentials).
type OnlineResult = Option<Online>;

/// Whether `--online` asks about a token with this offline verdict.
pub(super) fn worth_asking(token: &TokenConfig, verdict: &Verdict) -> bool {
    match verdict {
        Verdict::Ok | Verdict::ExpiresSoon => true,
        Verdict::Expired | Verdict::NoJwtYet | Verdict::Refreshable => token.can_refresh(),
        _ => false,
    }
}

/// Asks the upstream about every token worth asking, a few at a time, with a progress bar on a terminal.
pub(super) fn check_online(
    config: &crate::config::Config,
    verdicts: &[Verdict],
) -> anyhow::Result<Vec<OnlineResult>> {
    use futures_util::StreamExt;
    let client = UpstreamClient::new(config)?;
    let needs_chain = config.tokens.iter().any(|t| t.refresh_token.is_some());
    // The state file is only opened when a chain will run: it is none of a plain check's business.
    let credentials = Credentials::open(match needs_chain {
        true => config.start_up.state_file.clone(),
        false => None,
    })?;
    let asked: Vec<usize> = verdicts
        .iter()
        .enumerate()
        .filter(|(i, v)| worth_asking(&config.tokens[*i], v))
        .map(|(i, _)| i)
        .collect();
    // Quiet in CI and pipes: the bar only where a person watches stderr.
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(asked.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_message("asking JetBrains AI");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let answers: Vec<(usize, Online)> = runtime.block_on(
        futures_util::stream::iter(asked)
            .map(|i| {
                let (client, bar, credentials) = (&client, &bar, &credentials);
                async move {
                    let answer = ask(client, credentials, &config.tokens[i]).await;
                    bar.inc(1);
                    (i, answer)
                }
            })
            .buffer_unordered(4)
            .collect(),
    );
    bar.finish_and_clear();
    let mut results: Vec<OnlineResult> = (0..verdicts.len()).map(|_| None).collect();
    for (i, answer) in answers {
        results[i] = Some(answer);
    }
    Ok(results)
}

/// Refreshes `token` when it can be (the whole chain), then asks the quota endpoint and `profiles/v8` with its JWT.
async fn ask(client: &UpstreamClient, credentials: &Credentials, token: &TokenConfig) -> Online {
    let (jwt, refresh) = if token.can_refresh() {
        match credentials.jwt(client, token).await {
            Ok(jwt) => (Some(jwt), Some(Ok(()))),
            Err(err) => (None, Some(Err(err.to_string()))),
        }
    } else {
        (Some(token.token.clone()), None)
    };
    let Some(jwt) = jwt else {
        return Online {
            refresh,
            quota: None,
            models: None,
            refreshed_expiry: None,
        };
    };
    let quota = client.quota(jwt.expose_secret()).await;
    let models = match &quota {
        Ok(_) => client
            .profiles(jwt.expose_secret())
            .await
            .ok()
            .map(|p| p.len()),
        Err(_) => None,
    };
    let refreshed_expiry = match refresh {
        Some(Ok(())) => crate::jwt::expiry_of(jwt.expose_secret()),
        _ => None,
    };
    Online {
        refresh,
        quota: Some(quota),
        models,
        refreshed_expiry,
    }
}

/// Combines the offline verdict with what the upstream said. A refreshed JWT is fresh, so its offline expiry no
/// longer counts.
pub(super) fn online_verdict(offline: &Verdict, online: &Online) -> Verdict {
    let base = match &online.refresh {
        Some(Err(why)) => return Verdict::RefreshFailed(why.clone()),
        Some(Ok(())) => Verdict::Ok,
        None => offline.clone(),
    };
    match &online.quota {
        None => base,
        Some(Ok(quota)) if quota.left <= 0.0 => Verdict::NoQuota,
        Some(Ok(_)) => base,
        Some(Err(UpstreamError::Unauthorized)) => Verdict::Rejected,
        Some(Err(UpstreamError::Forbidden { .. })) => Verdict::Forbidden,
        Some(Err(UpstreamError::Suspended(message))) => Verdict::Suspended(message.clone()),
        Some(Err(UpstreamError::QuotaExhausted)) => Verdict::NoQuota,
        Some(Err(err)) => Verdict::Unreachable(err.to_string()),
    }
}
