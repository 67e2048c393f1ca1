//! Hostile input, by property tests (proptest): the upstream SSE reader, the event parser, the request mapping and
//! the config loader get malformed, truncated, huge, deeply nested, oddly chunked and non-UTF-8 input, and must
//! answer with a clear error, never a panic. Case counts are fixed here (`CASES_*`) and recorded in RELIABILITY.md.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use jbproxy::config::UpstreamApi;
use jbproxy::translate::grazie;
use jbproxy::translate::openai::request::ChatRequest;
use jbproxy::upstream::EventStream;
use jbproxy::upstream::StreamTimeouts;
use jbproxy::upstream::event::{UpstreamEvent, parse_data};
use proptest::prelude::*;
use serde_json::{Value, json};

const CASES_SSE: u32 = 512;
const CASES_PARSE: u32 = 1024;
const CASES_BUILD: u32 = 1024;
const CASES_CONFIG: u32 = 1024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
}

const TIMEOUTS: StreamTimeouts = StreamTimeouts {
    first_event: Duration::from_secs(5),
    idle: Duration::from_secs(5),
};

/// Every event of a byte stream cut into `chunks`, up to the end or the first error (as its message).
fn read_all(
    rt: &tokio::runtime::Runtime,
    chunks: Vec<Vec<u8>>,
) -> (Vec<UpstreamEvent>, Option<String>) {
    let stream = futures_util::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c))));
    let mut events = EventStream::from_bytes(stream, TIMEOUTS);
    rt.block_on(async {
        let mut out = Vec::new();
        // Each call either yields or ends the stream; the bound only guards the test against a reader that loops.
        for _ in 0..100_000 {
            match events.next().await {
                Some(Ok(event)) => out.push(event),
                Some(Err(err)) => return (out, Some(err.to_string())),
                None => return (out, None),
            }
        }
        panic!("the event reader never ended");
    })
}

/// Splits `bytes` at the given (sorted, deduplicated) cut points.
fn cut(bytes: &[u8], mut points: Vec<usize>) -> Vec<Vec<u8>> {
    points.retain(|&p| p > 0 && p < bytes.len());
    points.sort_unstable();
    points.dedup();
    let mut chunks = Vec::new();
    let mut from = 0;
    for p in points {
        chunks.push(bytes[from..p].to_vec());
        from = p;
    }
    chunks.push(bytes[from..].to_vec());
    chunks
}

/// One upstream event as JSON, drawn from every known type plus unknown ones.
fn upstream_event() -> impl Strategy<Value = Value> {
    prop_oneof![
        ".{0,40}".prop_map(|c| json!({"type": "Content", "content": c})),
        ("[a-z0-9_]{1,12}", "[a-z_]{1,12}")
            .prop_map(|(id, name)| json!({"type": "ToolCall", "id": id, "name": name})),
        ".{0,40}".prop_map(|c| json!({"type": "ToolCall", "content": c})),
        prop_oneof![Just("stop"), Just("length"), Just("tool_call"), Just("other")]
            .prop_map(|r| json!({"type": "FinishMetadata", "reason": r})),
        (0u32..1000, 1u32..1000).prop_map(|(u, m)| json!({"type": "QuotaMetadata",
            "updated": {"current": {"amount": u.to_string()}, "maximum": {"amount": m.to_string()}, "until": 1767225600000u64},
            "spent": {"amount": "1.5"}})),
        "[A-Z][a-zA-Z]{0,12}".prop_map(|t| json!({"type": t, "whatever": [1, 2]})),
    ]
}

/// A valid upstream stream: events, optional comment and non-data lines, `data: end`; `\n` or `\r\n` endings.
fn valid_stream() -> impl Strategy<Value = (Vec<u8>, usize)> {
    (
        prop::collection::vec(upstream_event(), 0..12),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(events, crlf, noise)| {
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut text = String::new();
            for event in &events {
                if noise {
                    text.push_str(&format!(": keep-alive{nl}event: message{nl}"));
                }
                text.push_str(&format!("data: {event}{nl}{nl}"));
            }
            text.push_str(&format!("data: end{nl}{nl}"));
            (text.into_bytes(), events.len())
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES_SSE, ..ProptestConfig::default() })]

    /// However the bytes of a valid stream are chunked (down to single bytes, splitting UTF-8 characters and
    /// CRLF pairs), the reader gives the same events, ending with `End`.
    #[test]
    fn sse_chunking_never_changes_the_events(
        (bytes, _n) in valid_stream(),
        points in prop::collection::vec(0usize..4096, 0..64),
        bytewise in any::<bool>(),
    ) {
        let rt = runtime();
        let (whole, err) = read_all(&rt, vec![bytes.clone()]);
        prop_assert!(err.is_none(), "{err:?}");
        prop_assert_eq!(whole.last(), Some(&UpstreamEvent::End));
        let chunks = if bytewise {
            bytes.iter().map(|b| vec![*b]).collect()
        } else {
            cut(&bytes, points.iter().map(|p| p % (bytes.len() + 1)).collect())
        };
        let (chunked, err) = read_all(&rt, chunks);
        prop_assert!(err.is_none(), "{err:?}");
        prop_assert_eq!(chunked, whole);
    }

    /// Arbitrary bytes, arbitrarily chunked: the reader ends (with events, an error, or both) and never panics.
    #[test]
    fn sse_arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        points in prop::collection::vec(0usize..2048, 0..16),
    ) {
        let rt = runtime();
        let (events, err) = read_all(&rt, cut(&bytes, points));
        // Without `data: end` the stream must not look complete.
        if events.last() != Some(&UpstreamEvent::End) {
            prop_assert!(err.is_some());
        }
    }

    /// Arbitrary `data:` payloads on otherwise well-formed lines: never a panic, and a stream without its end
    /// marker is reported as cut.
    #[test]
    fn sse_arbitrary_payloads_never_panic(payloads in prop::collection::vec(".{0,200}", 0..8)) {
        let rt = runtime();
        let mut text = String::new();
        for p in &payloads {
            text.push_str("data: ");
            text.push_str(&p.replace(['\n', '\r'], " "));
            text.push_str("\n\n");
        }
        let (events, err) = read_all(&rt, vec![text.into_bytes()]);
        prop_assert!(events.last() == Some(&UpstreamEvent::End) || err.is_some());
    }
}

/// A line longer than the cap is an error however it arrives, not an ever-growing buffer, and finding out costs
/// linear time (the SSE parser alone re-scanned its buffer per chunk: 1,000-byte chunks of a 4 MiB line took
/// minutes in a debug build).
#[test]
fn sse_an_over_long_line_is_an_error() {
    let rt = runtime();
    let limit = jbproxy::upstream::MAX_LINE_BYTES;
    let mut line = b"data: {\"type\":\"Content\",\"content\":\"".to_vec();
    line.resize(limit + 100, b'x');
    for chunk_size in [limit + 100, 64 * 1024, 1000] {
        let chunks: Vec<Vec<u8>> = line.chunks(chunk_size).map(<[u8]>::to_vec).collect();
        let started = std::time::Instant::now();
        let (events, err) = read_all(&rt, chunks);
        let took = started.elapsed();
        eprintln!("over-long line in {chunk_size}-byte chunks: refused after {took:?}");
        assert!(
            took < Duration::from_secs(3),
            "{chunk_size}-byte chunks took {took:?}"
        );
        assert!(events.is_empty());
        let err = err.expect("an error");
        assert!(err.contains("longer than"), "{err}");
    }
    // Just under the cap is fine (large tool arguments must pass).
    let content = "y".repeat(limit - 100);
    let ok = format!(
        "data: {}\n\ndata: end\n\n",
        json!({"type": "Content", "content": content})
    );
    let (events, err) = read_all(&rt, vec![ok.into_bytes()]);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(events.len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES_PARSE, ..ProptestConfig::default() })]

    /// Any text: an event or an error whose message is short (it quotes a bounded snippet, never the payload).
    #[test]
    fn parse_data_never_panics_on_text(data in "(?s).{0,400}") {
        if let Err(err) = parse_data(&data) {
            prop_assert!(err.to_string().chars().count() < 400);
        }
    }

    /// Any JSON value, including wrong types in every known field.
    #[test]
    fn parse_data_never_panics_on_json(value in json_value()) {
        let _ = parse_data(&value.to_string());
        let wrapped = json!({"type": "Content", "content": value.clone(), "id": value.clone(), "name": value.clone(),
            "reason": value.clone(), "updated": value.clone(), "spent": value});
        let _ = parse_data(&wrapped.to_string());
    }
}

/// A huge payload's error is still short.
#[test]
fn parse_data_errors_quote_little() {
    let huge = format!(
        "{{\"type\": \"Content\", \"content\": \"{}",
        "z".repeat(1_000_000)
    );
    let err = parse_data(&huge).expect_err("unterminated");
    assert!(err.to_string().len() < 400, "{err}");
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_data(&deep).is_err());
}

/// Arbitrary JSON, leaning towards the keys and values a chat message uses so the mapping's branches are reached.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("role"),
        Just("content"),
        Just("type"),
        Just("text"),
        Just("image_url"),
        Just("url"),
        Just("tool_calls"),
        Just("tool_call_id"),
        Just("function"),
        Just("name"),
        Just("arguments"),
        Just("id"),
        Just("parameters"),
        Just("description"),
        Just("x"),
    ]
    .prop_map(str::to_string);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("user"),
            Just("assistant"),
            Just("system"),
            Just("developer"),
            Just("tool"),
            Just("function"),
            Just("text"),
            Just("image_url"),
            Just("data:image/png;base64,iVBORw0KGgo="),
            Just("data:image/png;base64,!!!"),
            Just("https://example.com/cat.png"),
            Just("{\"a\":1}"),
            Just(""),
        ]
        .prop_map(|s| json!(s)),
        ".{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Messages that are mostly well-shaped objects with arbitrary insides.
fn messages() -> impl Strategy<Value = Vec<Value>> {
    let message = prop_oneof![
        json_value(),
        (
            prop_oneof![
                Just("user"),
                Just("assistant"),
                Just("system"),
                Just("tool"),
                Just("developer")
            ],
            json_value(),
            json_value(),
            json_value()
        )
            .prop_map(
                |(role, content, calls, id)| json!({"role": role, "content": content,
                "tool_calls": calls, "tool_call_id": id})
            ),
    ];
    prop::collection::vec(message, 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES_BUILD, ..ProptestConfig::default() })]

    /// Arbitrary messages and tools: `build` answers with a request or a 400-style message, for both dialects.
    #[test]
    fn request_build_never_panics(
        messages in messages(),
        tools in prop::option::of(prop::collection::vec(json_value(), 0..3)),
        n in prop::option::of(0u32..4),
    ) {
        let body = json!({"model": "gpt-4o", "messages": messages, "tools": tools, "n": n});
        let bytes = serde_json::to_vec(&body).expect("json");
        let req = match ChatRequest::parse(&bytes) {
            Ok(req) => req,
            Err(err) => {
                prop_assert!(!err.message.is_empty());
                prop_assert!(err.message.chars().count() < 1000, "{}", err.message);
                return Ok(());
            }
        };
        let caps = jbproxy::profiles::ProfileTable::default().capabilities("openai-gpt-4o");
        for api in [UpstreamApi::V8, UpstreamApi::V7] {
            match grazie::build(&req.conversation, "openai-gpt-4o", &caps, api) {
                Ok(built) => {
                    let sent: Value = serde_json::from_slice(&built.body).expect("the upstream body is JSON");
                    prop_assert_eq!(&sent["profile"], "openai-gpt-4o");
                }
                Err(err) => {
                    prop_assert!(!err.message.is_empty());
                    prop_assert!(err.message.chars().count() < 1000, "{}", err.message);
                }
            }
        }
    }
}

/// A config that parses, to truncate and mutate.
fn sample_config() -> String {
    serde_json::to_string_pretty(&json!({
        "jetbrains_tokens": [
            {"token": "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDB9.c2ln", "name": "a", "priority": 1,
             "weight": 2, "metadata": {"k": "v"}},
            {"token": "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDF9.c2ln", "name": "b"}
        ],
        "bearer_token": "sk-abc",
        "load_balance_strategy": "round_robin",
        "health_check_interval": "30s",
        "max_body_size": "1MiB",
        "server_port": 8080,
        "models": {"x": "y"}
    }))
    .expect("json")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES_CONFIG, ..ProptestConfig::default() })]

    /// Arbitrary text: a config or an error naming the file, never a panic.
    #[test]
    fn config_parse_never_panics_on_text(text in "(?s).{0,300}") {
        if let Err(err) = jbproxy::config::file::parse(&text, Path::new("fuzz.json")) {
            prop_assert!(err.to_string().contains("fuzz.json"), "{err}");
        }
    }

    /// Every truncation of a valid config short of its closing brace is an error with a position.
    #[test]
    fn config_truncated_is_an_error(at in 0usize..10_000) {
        let full = sample_config();
        let end = full.trim_end().len() - 1;
        let mut at = at % end;
        while !full.is_char_boundary(at) {
            at -= 1;
        }
        let err = jbproxy::config::file::parse(&full[..at], Path::new("cut.json"));
        prop_assert!(err.is_err(), "a truncated config parsed");
    }

    /// Arbitrary JSON in every field's place: type errors name the key, never panic.
    #[test]
    fn config_wrong_values_never_panic(value in json_value(), key in prop_oneof![
        Just("jetbrains_tokens"), Just("bearer_token"), Just("health_check_interval"), Just("max_body_size"),
        Just("server_port"), Just("models"), Just("grazie_agent"), Just("max_attempts"), Just("upstream_url"),
    ]) {
        let mut config: Value = serde_json::from_str(&sample_config()).expect("json");
        config["jetbrains_tokens"][0]["metadata"] = value.clone();
        let _ = jbproxy::config::file::parse(&config.to_string(), Path::new("c.json"));
        config[key] = value;
        let _ = jbproxy::config::file::parse(&config.to_string(), Path::new("c.json"));
    }

    /// The whole loader (file → layers → validation) on arbitrary bytes, including invalid UTF-8.
    #[test]
    fn config_load_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.json");
        std::fs::write(&path, &bytes).expect("write");
        let overrides = jbproxy::config::Overrides {
            config_file: Some(path),
            ..Default::default()
        };
        let env = jbproxy::config::Env::from_pairs([]).with_home(dir.path());
        prop_assert!(jbproxy::config::load(&overrides, &env).is_err());
    }
}

#[test]
fn config_deeply_nested_and_non_utf8_files_are_errors() {
    let deep = format!(
        "{{\"models\": {}{}}}",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    let err = jbproxy::config::file::parse(&deep, Path::new("deep.json")).expect_err("too deep");
    assert!(err.to_string().contains("deep.json"), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("latin1.json");
    std::fs::write(&path, b"{\"bearer_token\": \"caf\xe9\"}").expect("write");
    let err = jbproxy::config::file::read(&path).expect_err("not UTF-8");
    assert!(err.to_string().contains("latin1.json"), "{err}");
    // A huge but valid file is read whole and still validated.
    let huge = format!("{{\"_comment\": \"{}\"}}", "c".repeat(10_000_000));
    assert!(jbproxy::config::file::parse(&huge, Path::new("huge.json")).is_ok());
}
