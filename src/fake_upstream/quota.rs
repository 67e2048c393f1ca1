//! Per-token quota bookkeeping and its two wire shapes: the `quota/get` reply and the `QuotaMetadata` event.

use serde_json::{Value, json};

/// The default allowance, in the upstream's units (1/100,000 credit), as in the survey's example.
pub(super) const DEFAULT_MAXIMUM: f64 = 300_000.0;
/// How long a fresh or reset quota period lasts.
const PERIOD_MS: i64 = 30 * 24 * 3600 * 1000;

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Quota {
    pub used: f64,
    pub maximum: f64,
    pub until_ms: i64,
}

impl Quota {
    pub fn fresh(now_ms: i64) -> Self {
        Quota {
            used: 0.0,
            maximum: DEFAULT_MAXIMUM,
            until_ms: now_ms + PERIOD_MS,
        }
    }

    /// Starts a new period once `until` has passed, as the real quota resets at `current.until`; this lets a test
    /// exhaust a token until a near moment and watch it come back.
    pub fn roll_over(&mut self, now_ms: i64) {
        if self.until_ms <= now_ms {
            *self = Quota {
                maximum: self.maximum,
                ..Quota::fresh(now_ms)
            };
        }
    }

    pub fn exhausted(&self) -> bool {
        self.used >= self.maximum
    }

    /// What the quota endpoint shows while the token's behaviour is `QuotaExhausted`.
    pub fn shown_exhausted(self) -> Self {
        Quota {
            used: self.maximum,
            ..self
        }
    }

    fn available(&self) -> f64 {
        (self.maximum - self.used).max(0.0)
    }

    /// The `quota/get` reply, with `until` in both places so every known parser finds it.
    pub fn get_reply(&self) -> Value {
        json!({
            "current": {
                "current": {"amount": amount(self.used)},
                "maximum": {"amount": amount(self.maximum)},
                "until": self.until_ms,
                "tariffQuota": {
                    "current": {"amount": amount(self.used)},
                    "maximum": {"amount": amount(self.maximum)},
                    "available": {"amount": amount(self.available())},
                },
                "topUpQuota": {
                    "current": {"amount": "0"},
                    "maximum": {"amount": "0"},
                    "available": {"amount": "0"},
                },
            },
            "until": crate::jwt::rfc3339(crate::epoch::from_millis(self.until_ms)),
        })
    }

    /// The `QuotaMetadata` stream event after a chat that cost `spent`.
    pub fn metadata_event(&self, token_name: &str, spent: f64) -> Value {
        json!({
            "type": "QuotaMetadata",
            "updated": {
                "license": format!("fake-license-{token_name}"),
                "current": {"amount": amount(self.used)},
                "maximum": {"amount": amount(self.maximum)},
                "until": self.until_ms,
                "quotaID": {"quotaId": format!("fake-quota-{token_name}")},
            },
            "spent": {"amount": amount(spent)},
        })
    }
}

/// Amounts are decimal strings upstream ("120000.0").
pub(super) fn amount(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 {
        format!("{value:.1}")
    } else {
        value.to_string()
    }
}
