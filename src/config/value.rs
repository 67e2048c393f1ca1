//! How the config file's values are read: each checked while the parser is still at it (so an error has its
//! line and column), and said in the user's words. Durations are humantime text or seconds, sizes bytes or text
//! with a unit, whole numbers say what they are for.

use std::fmt;
use std::time::Duration;

use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::explain;

/// Reads one value and checks it with `check`, failing *while the parser is still at the value*, so the error's
/// line and column point at it (a check after reading would be reported at the end of the enclosing object).
/// `null` is the same as leaving the key out.
fn checked<'de, D, T>(
    de: D,
    check: impl FnOnce(Value) -> Result<T, String>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Checked<F>(F);

    impl<F> Checked<F> {
        fn run<T, E: serde::de::Error>(self, value: Value) -> Result<Option<T>, E>
        where
            F: FnOnce(Value) -> Result<T, String>,
        {
            (self.0)(value).map(Some).map_err(E::custom)
        }
    }

    impl<'de, T, F: FnOnce(Value) -> Result<T, String>> Visitor<'de> for Checked<F> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a value")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Self::Value, E> {
            self.run(Value::Bool(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            self.run(Value::from(v))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            self.run(Value::from(v))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            self.run(Value::from(v))
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            self.run(Value::from(v))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            self.run(Value::Array(Vec::new()))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            self.run(Value::Object(Map::new()))
        }
    }

    de.deserialize_any(Checked(check))
}

/// A duration written as a humantime string (`"30s"`, `"1m 30s"`) or a number of seconds.
pub(super) fn opt_duration<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Duration>, D::Error> {
    checked(de, |value| match value {
        Value::String(text) => parse_duration(&text),
        Value::Number(n) => match n.as_f64() {
            Some(secs) if secs >= 0.0 => Duration::try_from_secs_f64(secs).map_err(|_| {
                format!("{secs} seconds is too long to be a duration; {DURATION_EXAMPLES}")
            }),
            _ => Err(format!(
                "{n} is not a duration: use a non-negative number of seconds, or text; {DURATION_EXAMPLES}"
            )),
        },
        other => Err(format!(
            "{} is not a duration; {DURATION_EXAMPLES}",
            explain::describe_value(&other)
        )),
    })
}

/// A size in bytes written as a number or a string with a unit (`"32MiB"`, `"10 MB"`).
pub(super) fn opt_byte_size<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u64>, D::Error> {
    checked(de, |value| match value {
        Value::String(text) => parse_byte_size(&text),
        Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
        other => Err(format!(
            "{} is not a size; write a number of bytes or a string such as \"32MiB\"",
            explain::describe_value(&other)
        )),
    })
}

/// Whole-number keys, each checked with a message that says what the number is for instead of a Rust type. Zero
/// passes here where the loader has a more specific message for it (`weight: 0` → use `enabled: false`).
macro_rules! opt_whole_number {
    ($name:ident, $ty:ty, $what:literal, $advice:literal) => {
        pub(super) fn $name<'de, D: Deserializer<'de>>(de: D) -> Result<Option<$ty>, D::Error> {
            let range = i64::try_from(<$ty>::MIN).unwrap_or(0)
                ..=i64::try_from(<$ty>::MAX).unwrap_or(i64::MAX);
            checked(de, |value| {
                explain::whole_number(&value, range, $what, $advice)
                    .and_then(|n| <$ty>::try_from(n).map_err(|e| e.to_string()))
            })
        }
    };
}

pub(super) fn opt_port<'de, D: Deserializer<'de>>(de: D) -> Result<Option<u16>, D::Error> {
    checked(de, |value| {
        value
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| explain::not_a_port(&explain::describe_value(&value)))
    })
}
opt_whole_number!(
    opt_priority,
    i64,
    "a priority",
    "a whole number; lower is preferred"
);
opt_whole_number!(opt_weight, u32, "a weight", "a whole number of at least 1");
opt_whole_number!(
    opt_concurrency,
    u32,
    "a concurrency limit",
    "a whole number of at least 1"
);
opt_whole_number!(
    opt_attempts,
    u32,
    "a number of attempts",
    "a whole number of at least 1"
);
opt_whole_number!(
    opt_connections,
    u32,
    "a number of connections",
    "a whole number of at least 1"
);

/// The most event loops `worker_threads` may ask for: far more than cores only adds threads that wait.
const MAX_WORKER_THREADS: u32 = 256;

pub(super) fn opt_worker_threads<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<Option<u32>, D::Error> {
    checked(de, |value| {
        explain::whole_number(
            &value,
            0..=i64::from(MAX_WORKER_THREADS),
            "a number of threads",
            "a whole number from 0 (one per CPU core) to 256",
        )
        .and_then(|n| u32::try_from(n).map_err(|e| e.to_string()))
    })
}

/// `n` if it is a thread count `worker_threads` takes.
pub(super) fn worker_threads(n: u32) -> Result<u32, &'static str> {
    if n <= MAX_WORKER_THREADS {
        Ok(n)
    } else {
        Err("must be at most 256 (0: one per CPU core)")
    }
}

/// How every duration may be written, for the messages about one.
pub const DURATION_EXAMPLES: &str = "expected e.g. 30s, 5m or 1h 30m";

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    // A bare number is seconds, as in the file.
    if let Ok(secs) = trimmed.parse::<f64>()
        && secs >= 0.0
        && let Ok(d) = Duration::try_from_secs_f64(secs)
    {
        return Ok(d);
    }
    humantime::parse_duration(trimmed).map_err(|_| {
        let shown = explain::describe_value(&Value::String(text.to_string()));
        format!("{shown} is not a duration; {DURATION_EXAMPLES}")
    })
}

pub fn parse_byte_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|_| {
            format!(
                "\"{text}\" is not a size; write a number of bytes or a string such as \"32MiB\""
            )
        })
}
