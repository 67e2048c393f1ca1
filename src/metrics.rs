//! Prometheus metrics through the `metrics` facade: the recorder, and the recording calls made where things happen.
//! A leaf: it knows no other part of jbproxy. The admin face sets the per-token gauges from the pool's stats before
//! rendering (`api::admin`), and the server's tasks run the upkeep.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use metrics_util::MetricKindMask;

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

/// How often histogram samples should be folded into their buckets (`run_upkeep`).
///
/// Why: the recorder queues every histogram sample until it is drained, and only a `/metrics` scrape drained it;
/// a server nobody scrapes grew by about 40 bytes per request (the soak run: +118 MiB after 2.9 M requests).
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Folds recorded histogram samples into their buckets.
pub fn run_upkeep() {
    if let Some(handle) = handle() {
        handle.run_upkeep();
    }
}

pub fn request_finished(status: u16, model: &str) {
    metrics::counter!("jbproxy_requests_total", "status" => status.to_string(), "model" => model.to_string()).increment(1);
}

/// Time from sending to the upstream until its first content (text or a tool call), or its end when it has none.
pub fn upstream_latency(elapsed: Duration) {
    metrics::histogram!("jbproxy_upstream_latency_seconds").record(elapsed.as_secs_f64());
}

/// Time the proxy spent on a request before handing it to the upstream (parse, map, pick, build).
pub fn proxy_overhead(elapsed: Duration) {
    metrics::histogram!("jbproxy_proxy_overhead_seconds").record(elapsed.as_secs_f64());
}

pub fn ejection(state: &'static str) {
    metrics::counter!("jbproxy_token_ejections_total", "reason" => state).increment(1);
}

/// A Redis command or connection attempt of the shared state failed (or timed out).
pub fn redis_error() {
    metrics::counter!("jbproxy_redis_errors_total").increment(1);
}

/// Shows the Redis error counter at 0 from the start of the shared mode, so a dashboard sees it before any error.
pub fn redis_errors_shown() {
    metrics::counter!("jbproxy_redis_errors_total").increment(0);
}

/// Log lines the non-blocking log had to drop so far (set, not added: the log counts them).
pub fn log_lines_dropped(total: u64) {
    metrics::counter!("jbproxy_log_lines_dropped_total").absolute(total);
}

/// Every state a token can be in, one gauge each (`disabled-by-operator` is `pool::OPERATOR_DISABLED`).
pub const TOKEN_STATES: [&str; 11] = [
    "healthy",
    "cooling",
    "ejected",
    "probing",
    "exhausted",
    "invalid",
    "forbidden",
    "suspended",
    "expired",
    "disabled",
    "disabled-by-operator",
];

/// One token's gauges: whether it can serve, its requests in flight, and its state (1 for the one it is in).
pub fn token(name: &str, usable: bool, inflight: u32, state: &str) {
    metrics::gauge!("jbproxy_token_usable", "token" => name.to_string()).set(if usable {
        1.0
    } else {
        0.0
    });
    metrics::gauge!("jbproxy_token_inflight", "token" => name.to_string()).set(f64::from(inflight));
    for each in TOKEN_STATES {
        metrics::gauge!("jbproxy_token_state", "token" => name.to_string(), "state" => each)
            .set(if state == each { 1.0 } else { 0.0 });
    }
}

/// The text exposition of everything recorded (empty when another recorder was installed first).
pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
}
