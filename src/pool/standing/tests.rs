use super::*;

#[tokio::test(start_paused = true)]
async fn faults_eject_after_the_threshold_and_a_single_probe_readmits() {
    let mut h = Standing::default();
    let now = Instant::now();
    assert_eq!(h.apply(&Outcome::Fault, now), None);
    assert_eq!(h.apply(&Outcome::Fault, now), None);
    let t = h.apply(&Outcome::Fault, now).expect("ejected");
    assert_eq!(t.to, StateKind::Ejected);
    assert_eq!(h.admission(now), Admission::No);
    tokio::time::advance(BASE_EJECTION).await;
    let later = Instant::now();
    assert_eq!(h.admission(later), Admission::Probe);
    h.start_probe();
    assert_eq!(
        h.admission(later),
        Admission::No,
        "only one probe at a time"
    );
    assert_eq!(
        h.apply(&Outcome::Success, later).map(|t| t.to),
        Some(StateKind::Healthy)
    );
    assert_eq!(h.admission(later), Admission::Serve);
}

#[tokio::test(start_paused = true)]
async fn a_failed_probe_ejects_again_for_longer() {
    let mut h = Standing::default();
    for _ in 0..3 {
        h.apply(&Outcome::Fault, Instant::now());
    }
    let first = h.until.expect("until") - Instant::now();
    tokio::time::advance(first).await;
    h.start_probe();
    h.apply(&Outcome::Fault, Instant::now());
    assert_eq!(h.kind, StateKind::Ejected);
    let second = h.until.expect("until") - Instant::now();
    assert_eq!(second, first * 2);
}

#[tokio::test(start_paused = true)]
async fn rate_limits_cool_for_retry_after_or_a_growing_backoff() {
    let mut h = Standing::default();
    let now = Instant::now();
    h.apply(
        &Outcome::RateLimited {
            retry_after: Some(Duration::from_secs(7)),
        },
        now,
    );
    assert_eq!(h.until, Some(now + Duration::from_secs(7)));
    h.apply(&Outcome::RateLimited { retry_after: None }, now);
    assert_eq!(h.until, Some(now + BASE_COOLDOWN * 2));
    tokio::time::advance(BASE_COOLDOWN * 2).await;
    assert_eq!(h.admission(Instant::now()), Admission::Serve);
}

#[tokio::test(start_paused = true)]
async fn unauthorized_stays_out_until_restored_and_request_errors_cost_nothing() {
    let mut h = Standing::default();
    h.apply(&Outcome::RequestError, Instant::now());
    assert_eq!(h.kind, StateKind::Healthy);
    h.apply(&Outcome::Unauthorized, Instant::now());
    tokio::time::advance(Duration::from_secs(86_400)).await;
    assert_eq!(h.admission(Instant::now()), Admission::No);
    assert!(h.restore("refreshed").is_some());
    assert_eq!(h.admission(Instant::now()), Admission::Serve);
}

#[tokio::test(start_paused = true)]
async fn exhaustion_lasts_until_the_quota_reset() {
    let mut h = Standing::default();
    let until = SystemTime::now() + Duration::from_secs(600);
    h.apply(
        &Outcome::QuotaExhausted { until: Some(until) },
        Instant::now(),
    );
    assert_eq!(h.kind, StateKind::Exhausted);
    tokio::time::advance(Duration::from_secs(590)).await;
    assert_eq!(h.admission(Instant::now()), Admission::No);
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(h.admission(Instant::now()), Admission::Serve);
}

#[tokio::test(start_paused = true)]
async fn a_suspension_outlasts_every_outcome_check_and_refresh_until_lifted() {
    let mut h = Standing::default();
    let t = h
        .apply(&Outcome::Suspended, Instant::now())
        .expect("changed");
    assert_eq!(t.to, StateKind::Suspended);
    assert_eq!(h.ready_at(), None, "no timer brings it back");
    for outcome in [
        Outcome::Success,
        Outcome::RequestError,
        Outcome::QuotaExhausted { until: None },
        Outcome::Unauthorized,
    ] {
        assert_eq!(h.apply(&outcome, Instant::now()), None, "{outcome:?}");
    }
    assert_eq!(h.restore("health check passed"), None);
    tokio::time::advance(Duration::from_secs(30 * 86_400)).await;
    assert_eq!(h.admission(Instant::now()), Admission::No);
    assert_eq!(h.kind, StateKind::Suspended);
    assert!(h.lift("reloaded").is_some());
    assert_eq!(h.admission(Instant::now()), Admission::Serve);
}

#[tokio::test(start_paused = true)]
async fn forbidden_cools_for_its_default_or_retry_after_then_serves() {
    let mut h = Standing::default();
    h.apply(&Outcome::Forbidden { retry_after: None }, Instant::now());
    assert_eq!(h.kind, StateKind::Forbidden);
    assert_eq!(h.ready_at(), Some(Instant::now() + FORBIDDEN_COOLDOWN));
    tokio::time::advance(FORBIDDEN_COOLDOWN - Duration::from_secs(1)).await;
    assert_eq!(h.admission(Instant::now()), Admission::No);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(h.admission(Instant::now()), Admission::Serve);
    assert_eq!(
        h.apply(&Outcome::Success, Instant::now()).map(|t| t.to),
        Some(StateKind::Healthy)
    );
    h.apply(
        &Outcome::Forbidden {
            retry_after: Some(Duration::from_secs(9)),
        },
        Instant::now(),
    );
    assert_eq!(h.ready_at(), Some(Instant::now() + Duration::from_secs(9)));
}

#[tokio::test(start_paused = true)]
async fn remote_faults_count_toward_the_ejection_and_a_remote_success_clears_them() {
    let mut h = Standing::default();
    let now = Instant::now();
    assert_eq!(h.apply(&Outcome::Fault, now), None);
    assert_eq!(h.remote_fault(now), None);
    h.clear_faults();
    assert_eq!(
        h.consecutive_faults(),
        0,
        "a success elsewhere broke the run"
    );
    assert_eq!(h.remote_fault(now), None);
    assert_eq!(h.apply(&Outcome::Fault, now), None);
    let t = h
        .remote_fault(now)
        .expect("the third fault, from another replica, ejects");
    assert_eq!(t.to, StateKind::Ejected);
    let until = h.until;
    assert_eq!(h.remote_fault(now), None, "an ejected token stays as it is");
    assert_eq!((h.kind, h.until), (StateKind::Ejected, until));
    assert_eq!(h.consecutive_faults(), 4);

    let mut s = Standing::default();
    s.apply(&Outcome::Suspended, now);
    assert_eq!(s.remote_fault(now), None);
    assert_eq!((s.kind, s.consecutive_faults()), (StateKind::Suspended, 0));
}

#[test]
fn backoff_doubles_and_caps() {
    assert_eq!(
        backoff(Duration::from_secs(5), 1, MAX_EJECTION),
        Duration::from_secs(5)
    );
    assert_eq!(
        backoff(Duration::from_secs(5), 3, MAX_EJECTION),
        Duration::from_secs(20)
    );
    assert_eq!(
        backoff(Duration::from_secs(5), 40, MAX_EJECTION),
        MAX_EJECTION
    );
}
