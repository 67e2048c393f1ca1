//! Traffic over the last hour, for the status page: a ring of per-10-second samples (requests, errors, latency
//! p50/p99) and request counts per model, kept in memory by the server and read through `GET /stats/traffic`.
//!
//! Cost per request: a handful of relaxed atomic additions into the current 10-second bucket (no lock, no clock read,
//! no allocation), plus a read-locked map lookup for the model name. Every 10 seconds the metrics upkeep task closes
//! the bucket: it swaps each counter back to zero, turns the latency histogram into p50/p99, and pushes one
//! `Sample` into the ring.
//!
//! Memory is bounded: the ring holds at most `CAPACITY` (360) samples of 80 bytes, one hour, about 28 KiB; the
//! histogram is `BUCKETS` (112) counters; the model map holds at most `MAX_MODELS` names, any further name counting
//! under `OTHER_MODELS`. The samples are per process: they start empty on a restart and survive a config reload.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;

/// The length of one sample.
pub const INTERVAL: Duration = Duration::from_secs(10);
/// Samples kept: one hour of them.
pub const CAPACITY: usize = 360;
/// Distinct model names counted; a client choosing dated model ids cannot grow the map without bound.
pub const MAX_MODELS: usize = 100;
/// Where requests for models past `MAX_MODELS` are counted.
pub const OTHER_MODELS: &str = "(other)";

/// Four buckets per power of two of microseconds: a percentile is read back within 12.5 % of the true value.
const SUB_BITS: u32 = 2;
/// Octaves up to 2^27 µs (134 s); anything slower lands in the last bucket.
const MAX_OCTAVE: u32 = 27;
const BUCKETS: usize = ((MAX_OCTAVE + 1) << SUB_BITS) as usize;

/// One closed 10-second interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    /// When the interval ended, Unix milliseconds.
    pub at_ms: u64,
    /// How long it lasted (10 s unless the server was too busy to close it on time).
    pub secs: f64,
    /// Requests answered (any status) on the API faces.
    pub requests: u64,
    /// Of those, answered with a 5xx (no usable token, the upstream failing on every attempt, shutdown).
    pub errors: u64,
    /// Of those, refused with a 4xx (bad request, wrong key, unknown model): the client's doing.
    pub client_errors: u64,
    /// Requests whose latency was measured: time from sending to the upstream until its first event.
    pub latency_count: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
}

/// The counters of the interval now running.
struct Current {
    requests: AtomicU64,
    errors: AtomicU64,
    client_errors: AtomicU64,
    latency: [AtomicU32; BUCKETS],
}

struct Traffic {
    current: Current,
    /// The start of the running interval, Unix milliseconds (written by the tick only).
    started_ms: AtomicU64,
    /// When the last interval was closed (`None` until `start`).
    last_tick: Mutex<Option<Instant>>,
    ring: Mutex<VecDeque<Sample>>,
    models: RwLock<HashMap<Box<str>, AtomicU64>>,
}

static TRAFFIC: LazyLock<Traffic> = LazyLock::new(|| Traffic {
    current: Current {
        requests: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        client_errors: AtomicU64::new(0),
        latency: std::array::from_fn(|_| AtomicU32::new(0)),
    },
    started_ms: AtomicU64::new(now_ms()),
    last_tick: Mutex::new(None),
    ring: Mutex::new(VecDeque::with_capacity(CAPACITY)),
    models: RwLock::new(HashMap::new()),
});

/// Counts one answered request; `model` is empty when the request failed before its model was known.
pub fn record_request(status: u16, model: &str) {
    let t = &*TRAFFIC;
    t.current.requests.fetch_add(1, Ordering::Relaxed);
    match status {
        500.. => t.current.errors.fetch_add(1, Ordering::Relaxed),
        400..=499 => t.current.client_errors.fetch_add(1, Ordering::Relaxed),
        _ => 0,
    };
    if !model.is_empty() {
        count_model(&t.models, model);
    }
}

/// Records the time from sending a request to the upstream until its first event.
pub fn record_latency(elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
    TRAFFIC.current.latency[bucket(micros)].fetch_add(1, Ordering::Relaxed);
}

fn count_model(models: &RwLock<HashMap<Box<str>, AtomicU64>>, model: &str) {
    // The common case: a model seen before, counted under the read lock.
    if let Some(n) = models.read().unwrap_or_else(|p| p.into_inner()).get(model) {
        n.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let mut map = models.write().unwrap_or_else(|p| p.into_inner());
    let key = if map.len() < MAX_MODELS || map.contains_key(model) {
        model
    } else {
        OTHER_MODELS
    };
    map.entry(key.into())
        .or_insert_with(|| AtomicU64::new(0))
        .fetch_add(1, Ordering::Relaxed);
}

/// Closes the running interval into a sample and starts the next one.
pub fn tick() {
    let t = &*TRAFFIC;
    let now = now_ms();
    let started = t.started_ms.swap(now, Ordering::Relaxed);
    let mut histogram = [0u32; BUCKETS];
    for (slot, counter) in histogram.iter_mut().zip(&t.current.latency) {
        *slot = counter.swap(0, Ordering::Relaxed);
    }
    let sample = Sample {
        at_ms: now,
        secs: now.saturating_sub(started) as f64 / 1000.0,
        requests: t.current.requests.swap(0, Ordering::Relaxed),
        errors: t.current.errors.swap(0, Ordering::Relaxed),
        client_errors: t.current.client_errors.swap(0, Ordering::Relaxed),
        latency_count: histogram.iter().map(|&n| u64::from(n)).sum(),
        latency_p50_ms: percentile_ms(&histogram, 0.50),
        latency_p99_ms: percentile_ms(&histogram, 0.99),
    };
    push(
        &mut t.ring.lock().unwrap_or_else(|p| p.into_inner()),
        sample,
    );
}

fn push(ring: &mut VecDeque<Sample>, sample: Sample) {
    if ring.len() == CAPACITY {
        ring.pop_front();
    }
    ring.push_back(sample);
}

/// Starts the first interval; from then on `tick_if_due` closes one every `INTERVAL`.
pub fn start() {
    *TRAFFIC.last_tick.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    TRAFFIC.started_ms.store(now_ms(), Ordering::Relaxed);
}

/// Closes the running interval once it has lasted `INTERVAL`. Called from the metrics upkeep loop every 5 s
/// (`server::tasks`), so each sample spans two of its rounds; a stall makes one sample longer (its `secs`
/// says so) rather than a burst of empty ones.
pub fn tick_if_due() {
    let mut last = TRAFFIC.last_tick.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    // Half a round of slack: the loop's rounds are never shorter than 5 s, but may end a hair early on the clock.
    if last.is_some_and(|at| now.duration_since(at) + Duration::from_millis(500) >= INTERVAL) {
        *last = Some(now);
        drop(last);
        tick();
    }
}

/// The samples that ended after `since_ms` (all of them for 0), oldest first.
pub fn samples_since(since_ms: u64) -> Vec<Sample> {
    let ring = TRAFFIC.ring.lock().unwrap_or_else(|p| p.into_inner());
    ring.iter()
        .filter(|s| s.at_ms > since_ms)
        .copied()
        .collect()
}

/// Requests answered per model since the server started, in no particular order.
pub fn model_counts() -> Vec<(String, u64)> {
    let map = TRAFFIC.models.read().unwrap_or_else(|p| p.into_inner());
    map.iter()
        .map(|(k, v)| (k.to_string(), v.load(Ordering::Relaxed)))
        .collect()
}

/// The histogram bucket of a latency in microseconds: the octave (position of the top bit) and the next
/// `SUB_BITS` bits below it. Values under 4 µs get a bucket each.
fn bucket(micros: u64) -> usize {
    let v = micros.max(1);
    let octave = 63 - v.leading_zeros();
    if octave < SUB_BITS {
        return v as usize;
    }
    if octave > MAX_OCTAVE {
        return BUCKETS - 1;
    }
    let sub = (v >> (octave - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    ((octave << SUB_BITS) as u64 + sub) as usize
}

/// The middle of a bucket's range, in microseconds.
fn bucket_value(index: usize) -> f64 {
    let octave = (index >> SUB_BITS) as u32;
    if octave < SUB_BITS {
        return index as f64;
    }
    let sub = (index & ((1 << SUB_BITS) - 1)) as u64;
    let width = 1u64 << (octave - SUB_BITS);
    let low = ((1u64 << SUB_BITS) + sub) * width;
    low as f64 + (width as f64 - 1.0) / 2.0
}

/// The `q` quantile (0..=1) of a histogram, in milliseconds; `None` when it is empty.
fn percentile_ms(histogram: &[u32; BUCKETS], q: f64) -> Option<f64> {
    let total: u64 = histogram.iter().map(|&n| u64::from(n)).sum();
    if total == 0 {
        return None;
    }
    // The smallest value with at least q of the samples at or below it.
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut seen = 0u64;
    histogram.iter().enumerate().find_map(|(i, &n)| {
        seen += u64::from(n);
        (seen >= rank).then(|| bucket_value(i) / 1000.0)
    })
}

/// Now, in Unix milliseconds (the unit of `Sample::at_ms`).
pub fn now_ms() -> u64 {
    u64::try_from(crate::epoch::now_ms()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_with_the_value_and_read_back_within_an_eighth() {
        let mut last = 0;
        for micros in (1..2_000_000u64).step_by(7) {
            let b = bucket(micros);
            assert!(b >= last, "bucket of {micros} went down");
            last = b;
            let back = bucket_value(b);
            let error = (back - micros as f64).abs() / micros as f64;
            assert!(error <= 0.125, "{micros} µs read back as {back}");
        }
        assert_eq!(bucket(0), bucket(1));
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert!(bucket(1 << MAX_OCTAVE) < BUCKETS);
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = [0u32; BUCKETS];
        assert_eq!(percentile_ms(&h, 0.5), None);
        // 98 requests at 10 ms, 2 at 2 s.
        h[bucket(10_000)] += 98;
        h[bucket(2_000_000)] += 2;
        let p50 = percentile_ms(&h, 0.50).expect("p50");
        let p99 = percentile_ms(&h, 0.99).expect("p99");
        assert!((p50 - 10.0).abs() <= 1.25, "p50 {p50}");
        assert!((p99 - 2000.0).abs() <= 250.0, "p99 {p99}");
    }

    #[test]
    fn the_ring_keeps_the_last_hour_only() {
        let mut ring = VecDeque::new();
        let sample = |at_ms| Sample {
            at_ms,
            secs: 10.0,
            requests: 1,
            errors: 0,
            client_errors: 0,
            latency_count: 0,
            latency_p50_ms: None,
            latency_p99_ms: None,
        };
        for at in 1..=(CAPACITY as u64 + 25) {
            push(&mut ring, sample(at));
        }
        assert_eq!(ring.len(), CAPACITY);
        assert_eq!(ring.front().map(|s| s.at_ms), Some(26));
        assert_eq!(
            std::mem::size_of::<Sample>(),
            80,
            "the module doc's memory figure"
        );
    }

    #[test]
    fn model_names_past_the_cap_count_as_other() {
        let models = RwLock::new(HashMap::new());
        for i in 0..MAX_MODELS + 10 {
            count_model(&models, &format!("model-{i}"));
        }
        count_model(&models, "model-0");
        let map = models.read().expect("map");
        assert_eq!(map.len(), MAX_MODELS + 1);
        assert_eq!(map["(other)"].load(Ordering::Relaxed), 10);
        assert_eq!(map["model-0"].load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_tick_closes_the_interval_into_a_sample() {
        // The only test touching the process-wide recorder, so nothing else records meanwhile.
        record_request(200, "gpt-4o");
        record_request(503, "");
        record_request(401, "");
        record_latency(Duration::from_millis(40));
        tick();
        let last = *samples_since(0).last().expect("a sample");
        assert_eq!((last.requests, last.errors, last.client_errors), (3, 1, 1));
        assert_eq!(last.latency_count, 1);
        let p50 = last.latency_p50_ms.expect("p50");
        assert!((p50 - 40.0).abs() <= 5.0, "p50 {p50}");
        assert!(samples_since(last.at_ms).is_empty());
        assert!(model_counts().contains(&("gpt-4o".to_string(), 1)));
        tick();
        let next = *samples_since(last.at_ms - 1).last().expect("another");
        assert_eq!((next.requests, next.latency_p99_ms), (0, None));
    }
}
