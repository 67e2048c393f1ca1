//! Prometheus metrics through the `metrics` facade: counters and histograms recorded where things happen, pool
//! gauges refreshed from the pool when `/metrics` is scraped.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

use crate::pool::Pool;

/// Sub-millisecond buckets for the proxy's own overhead; wider ones for upstream latency.
const OVERHEAD_BUCKETS: [f64; 12] = [
    0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1,
];
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How long a per-token gauge outlives the last scrape that saw its token.
const GAUGE_IDLE: Duration = Duration::from_secs(1);

/// The process-wide recorder; installed on first use. `None` if another recorder was installed first.
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("jbproxy_proxy_overhead_seconds".into()),
                    &OVERHEAD_BUCKETS,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("jbproxy_upstream_latency_seconds".into()),
                        &LATENCY_BUCKETS,
                    )
                })
                // Per-token gauges are set on every scrape just before rendering, so a gauge left untouched
                // for a while belongs to a token a reload removed; without this it would report its last state
                // (say, healthy and usable) forever. Counters and histograms are never dropped.
                .map(|b| b.idle_timeout(MetricKindMask::GAUGE, Some(GAUGE_IDLE)))
                .and_then(|b| b.install_recorder())
                .ok()
        })
        .as_ref()
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Folds recorded histogram samples into their buckets every few seconds until `stop`.
///
/// Why: the recorder queues every histogram sample until it is drained, and only a `/metrics` scrape drained it;
/// a server nobody scrapes grew by about 40 bytes per request (the soak run: +118 MiB after 2.9 M requests).
pub fn spawn_upkeep(stop: tokio_util::sync::CancellationToken) {
    let handle = handle();
    crate::traffic::start();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(UPKEEP_EVERY) => {
                    if let Some(handle) = handle {
                        handle.run_upkeep();
                    }
                    // The status page's 10-second traffic samples.
                    crate::traffic::tick_if_due();
                    // The last refusals of a burst are reported even when no further one comes.
                    crate::logging::report_refused_if_due();
                }
            }
        }
    });
}

pub fn request_finished(status: u16, model: &str) {
    crate::traffic::record_request(status, model);
    metrics::counter!("jbproxy_requests_total", "status" => status.to_string(), "model" => model.to_string()).increment(1);
}

/// Time from sending to the upstream until its first event.
pub fn upstream_latency(elapsed: Duration) {
    crate::traffic::record_latency(elapsed);
    metrics::histogram!("jbproxy_upstream_latency_seconds").record(elapsed.as_secs_f64());
}

/// Time the proxy spent on a request before handing it to the upstream (parse, map, pick, build).
pub fn proxy_overhead(elapsed: Duration) {
    metrics::histogram!("jbproxy_proxy_overhead_seconds").record(elapsed.as_secs_f64());
}

pub fn ejection(state: &'static str) {
    metrics::counter!("jbproxy_token_ejections_total", "reason" => state).increment(1);
}

/// Renders the text exposition, with the pool's per-token gauges brought up to date first.
pub fn render(pool: &Pool) -> String {
    let Some(handle) = handle() else {
        return String::new();
    };
    metrics::counter!("jbproxy_log_lines_dropped_total").absolute(crate::logging::dropped_lines());
    for stats in pool.token_stats() {
        let token = stats.name.clone();
        metrics::gauge!("jbproxy_token_usable", "token" => token.clone()).set(if stats.usable {
            1.0
        } else {
            0.0
        });
        metrics::gauge!("jbproxy_token_inflight", "token" => token.clone())
            .set(f64::from(stats.inflight));
        for state in [
            "healthy",
            "cooling",
            "ejected",
            "probing",
            "exhausted",
            "invalid",
            "expired",
            "disabled",
            crate::pool::OPERATOR_DISABLED,
        ] {
            metrics::gauge!("jbproxy_token_state", "token" => token.clone(), "state" => state)
                .set(if stats.state == state { 1.0 } else { 0.0 });
        }
    }
    handle.render()
}
