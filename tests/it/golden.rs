//! The golden fixtures of `tests/fixtures/grazie/` (generated from JetBrains' own Python client, see its README),
//! over real sockets:
//!
//! - requests: jbproxy's upstream body for each fixture's OpenAI and Anthropic inputs is the official body, field
//!   for field (order-insensitive; `parameters.data` as a set of pairs; JSON-in-a-string values parsed), when the
//!   profile takes every parameter; with the built-in profile table, jbproxy sends a subset, leaving out exactly
//!   what the table says the profile does not take;
//! - streams: jbproxy reads every transcript as the official client does (or as the fixture's `jbproxy.note` says,
//!   where jbproxy is deliberately more lenient), streamed and not;
//! - the fake upstream accepts every official body as it was sent, and refuses what the real service refuses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use jbproxy::fake_upstream::{Behaviour, FakeOptions, mint_jwt};
use jbproxy::profiles::Param;
use jbproxy::profiles::{ProfileTable, parse_overrides};

use crate::common::serve::{KEY, Setup, sse_data};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/grazie");

fn fixtures(kind: &str) -> Vec<(String, Value)> {
    let manifest: Value = read(&Path::new(FIXTURES).join("manifest.json"));
    let files: Vec<PathBuf> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(Value::as_str)
        .filter(|f| f.starts_with(&format!("{kind}/")))
        .map(|f| Path::new(FIXTURES).join(f))
        .collect();
    assert!(!files.is_empty(), "no {kind} fixtures");
    // Every file on disk is in the manifest, so none is skipped unnoticed.
    let on_disk = std::fs::read_dir(Path::new(FIXTURES).join(kind))
        .expect("fixture dir")
        .count();
    assert_eq!(on_disk, files.len(), "{kind}: manifest and folder differ");
    files
        .iter()
        .map(|f| {
            let name = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            (name.to_owned(), read(f))
        })
        .collect()
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every profile of the request fixtures taking every parameter, as config and as the fake's table.
fn permissive() -> (Value, ProfileTable) {
    let all: Vec<&str> = Param::ALL.iter().map(|p| p.name()).collect();
    let mut overrides = serde_json::Map::new();
    for (_, fixture) in fixtures("requests") {
        let profile = fixture["grazie"]["body"]["profile"]
            .as_str()
            .expect("profile");
        overrides.insert(
            profile.to_owned(),
            json!({"parameters": all, "prefill": true}),
        );
    }
    let overrides = Value::Object(overrides);
    let table = ProfileTable::new(
        &parse_overrides(overrides.clone()).expect("valid"),
        Default::default(),
    );
    (overrides, table)
}

/// A body made comparable: `parameters.data` as a sorted list of `(fqdn, type, value)` with JSON-in-a-string
/// values parsed and the key's type checked against the value's; tool-call arguments parsed when they are JSON.
fn normalised(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(messages) = body["chat"]["messages"].as_array_mut() {
        for message in messages {
            if message["type"] == "assistant_message_tool"
                && let Some(parsed) = message["content"]
                    .as_str()
                    .and_then(|c| serde_json::from_str::<Value>(c).ok())
            {
                message["content"] = parsed;
            }
        }
    }
    if let Some(data) = body["parameters"]["data"].as_array() {
        assert_eq!(data.len() % 2, 0, "pairs: {body}");
        let mut pairs: Vec<(String, Value)> = data
            .chunks(2)
            .map(|pair| {
                let (key, value) = (&pair[0], &pair[1]);
                assert_eq!(
                    key["type"], value["type"],
                    "key and value types differ: {key} {value}"
                );
                assert_eq!(key.as_object().map(|k| k.len()), Some(2), "{key}");
                assert_eq!(
                    value["modified"], 0,
                    "modified as JetBrains' client writes it: {value}"
                );
                let mut v = value["value"].clone();
                if value["type"] == "json" {
                    v = serde_json::from_str(v.as_str().expect("a json value is a string"))
                        .expect("json");
                }
                let fqdn = key["fqdn"].as_str().expect("fqdn").to_owned();
                (fqdn, json!({"type": value["type"], "value": v}))
            })
            .collect();
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let pairs: serde_json::Map<String, Value> = pairs.into_iter().collect();
        body["parameters"] = Value::Object(pairs);
    }
    body
}

/// Posts a face's request to jbproxy and returns the upstream body the fake received (or jbproxy's refusal).
async fn upstream_body(s: &Setup, path: &str, input: &Value) -> Result<Value, (u16, Value)> {
    let before = s.fake.requests().len();
    let response = s
        .client
        .post(s.url(path))
        .bearer_auth(KEY)
        .json(input)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let answer: Value = response.json().await.expect("json");
    if status != 200 {
        assert_eq!(
            s.fake.requests().len(),
            before,
            "refused, yet sent upstream: {answer}"
        );
        return Err((status, answer));
    }
    let requests = s.fake.requests();
    let sent = requests.last().expect("a request upstream");
    assert_eq!(
        sent.status, 200,
        "the fake refused jbproxy's body: {}",
        sent.body
    );
    Ok(sent.body.clone())
}

fn inputs(fixture: &Value) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for (face, path) in [
        ("openai", "/v1/chat/completions"),
        ("anthropic", "/v1/messages"),
    ] {
        for input in fixture[face].as_array().into_iter().flatten() {
            out.push((path, input.clone()));
        }
    }
    out
}

#[tokio::test]
async fn jbproxy_builds_the_official_body_for_every_request_fixture() {
    let (overrides, table) = permissive();
    let options = FakeOptions {
        profiles: table,
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a"], json!({"profile_parameters": overrides}), options).await;
    let mut compared = 0;
    for (name, fixture) in fixtures("requests") {
        let official = &fixture["grazie"]["body"];
        assert_eq!(
            fixture["grazie"]["path"], "/user/v5/llm/chat/stream/v8",
            "{name}"
        );
        for (path, input) in inputs(&fixture) {
            let sent = upstream_body(&s, path, &input)
                .await
                .unwrap_or_else(|(status, e)| panic!("{name}: {status} {e}"));
            assert_eq!(normalised(&sent), normalised(official), "{name}: {input}");
            compared += 1;
        }
    }
    assert!(compared >= 25, "only {compared} inputs compared");
}

#[tokio::test]
async fn with_the_built_in_table_jbproxy_leaves_out_exactly_what_a_profile_does_not_take() {
    let s = Setup::start(&["a"], json!({})).await;
    let table = ProfileTable::default();
    let mut left_out = 0;
    for (name, fixture) in fixtures("requests") {
        let official = normalised(&fixture["grazie"]["body"]);
        let profile = official["profile"].as_str().expect("profile");
        let caps = table.capabilities(profile);
        for (path, input) in inputs(&fixture) {
            let sent = match upstream_body(&s, path, &input).await {
                Ok(sent) => normalised(&sent),
                Err((status, answer)) => {
                    // Only a parameter that changes the answer's shape may be refused, with a 400 naming it.
                    assert_eq!(status, 400, "{name}: {answer}");
                    panic!("{name}: refused with the built-in table: {answer}");
                }
            };
            let mut expected = official.clone();
            if let Some(pairs) = expected
                .get_mut("parameters")
                .and_then(Value::as_object_mut)
            {
                pairs.retain(|fqdn, _| {
                    let taken = Param::parse(fqdn).is_some_and(|p| caps.takes(p));
                    left_out += usize::from(!taken);
                    taken
                });
                if pairs.is_empty() {
                    expected.as_object_mut().map(|b| b.remove("parameters"));
                }
            }
            assert_eq!(sent, expected, "{name}: {input}");
        }
    }
    // The fixtures hold parameters the built-in table leaves out (temperature on Claude, stop on gpt-4o, …).
    assert!(left_out >= 5, "{left_out}");
}

/// The official headers of a request fixture, with a real JWT for `token`.
fn official_headers(fixture: &Value, token: &str) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in fixture["grazie"]["headers"].as_object().expect("headers") {
        let value = match value.as_str().expect("header") {
            "<JWT>" => mint_jwt(token, Duration::from_secs(600)),
            other => other.to_owned(),
        };
        headers.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            value.parse().expect("value"),
        );
    }
    headers
}

async fn send_official(s: &Setup, fixture: &Value, body: &Value) -> (u16, String) {
    let response = s
        .client
        .post(format!(
            "{}{}",
            s.fake.url(),
            fixture["grazie"]["path"].as_str().expect("path")
        ))
        .headers(official_headers(fixture, "a"))
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn the_fake_accepts_every_official_body_and_refuses_what_the_service_refuses() {
    let (_, table) = permissive();
    let options = FakeOptions {
        profiles: table,
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a"], json!({}), options).await;
    for (name, fixture) in fixtures("requests") {
        let (status, text) = send_official(&s, &fixture, &fixture["grazie"]["body"]).await;
        assert_eq!(status, 200, "{name}: {text}");
        assert!(text.ends_with("data: end\n\n"), "{name}: {text}");
    }
    let text_user = fixtures("requests")
        .into_iter()
        .find(|(n, _)| n == "text_user")
        .expect("text_user")
        .1;
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut body = text_user["grazie"]["body"].clone();
        edit(&mut body);
        body
    };
    let refusals: Vec<(&str, Value, &str)> = vec![
        (
            "parameters.data null",
            with(&|b| b["parameters"] = json!({"data": null})),
            "parameters.data is null",
        ),
        (
            "blank text (Claude)",
            with(&|b| {
                b["profile"] = json!("anthropic-claude-4-5-sonnet");
                b["chat"]["messages"][0]["content"] = json!("  ");
            }),
            "non-whitespace text",
        ),
        (
            "a trailing assistant message on a profile without prefill",
            with(&|b| {
                b["profile"] = json!("anthropic-claude-4-6-sonnet");
                b["chat"]["messages"]
                    .as_array_mut()
                    .expect("messages")
                    .push(json!({"type": "assistant_message", "content": "The answer is"}));
            }),
            "does not support assistant message prefill",
        ),
    ];
    for (case, body, says) in refusals {
        let (status, text) = send_official(&s, &text_user, &body).await;
        assert_eq!(status, 400, "{case}: {text}");
        assert!(text.contains(says), "{case}: {text}");
    }
    // With the built-in table, a parameter the profile does not take (temperature on Claude) is refused, as the
    // service refuses it.
    let strict = Setup::start(&["a"], json!({})).await;
    let sampling = fixtures("requests")
        .into_iter()
        .find(|(n, _)| n == "anthropic_sampling")
        .expect("anthropic_sampling")
        .1;
    let (status, text) = send_official(&strict, &sampling, &sampling["grazie"]["body"]).await;
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains(
            "llm.parameters.temperature is not supported for profile anthropic-claude-4-5-sonnet"
        ),
        "{text}"
    );
}

/// A tool call as `(id, name, arguments)`.
type Call = (String, String, String);

/// One answer: its text, its tool calls and its OpenAI finish reason.
type Answer = (String, Vec<Call>, String);

/// What jbproxy must read from a transcript: the answers, one per choice; or an error whose message holds a text.
#[derive(Debug, PartialEq)]
enum Reading {
    Answers(Vec<Answer>),
    Error(String),
}

fn finish_reason(official: &Value, calls: bool) -> String {
    match official.as_str() {
        Some("stop") => "stop",
        Some("length") => "length",
        Some("tool_call" | "function_call") => "tool_calls",
        None if calls => "tool_calls",
        None => "stop",
        Some(other) => panic!("a reason the test does not map: {other}"),
    }
    .to_owned()
}

/// What the official client read, in jbproxy's terms.
fn official_reading(fixture: &Value) -> Reading {
    let official = &fixture["official"];
    if !official["error"].is_null() {
        return Reading::Error(String::new());
    }
    Reading::Answers(
        official["chat"]["responses"]
            .as_array()
            .expect("responses")
            .iter()
            .map(|r| {
                let calls: Vec<Call> = r["tool_calls"]
                    .as_array()
                    .expect("tool_calls")
                    .iter()
                    .map(|c| {
                        let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
                        (s("id"), s("name"), s("content"))
                    })
                    .collect();
                let reason = finish_reason(&r["stop_reason"], !calls.is_empty());
                (
                    r["content"].as_str().unwrap_or_default().to_owned(),
                    calls,
                    reason,
                )
            })
            .collect(),
    )
}

/// Where jbproxy is deliberately more lenient than the official client (`jbproxy.reads_as_official: false`), what
/// it reads instead, per the fixture's `jbproxy.note`.
fn lenient_reading(name: &str) -> Reading {
    let text = |t: &str| Reading::Answers(vec![(t.into(), vec![], "stop".into())]);
    match name {
        "done_sentinel" | "extra_field" | "missing_event_type" => text("Hi"),
        "non_data_line" | "other_metadata_type" => text("AB"),
        "tool_without_parallel_index" => Reading::Answers(vec![(
            String::new(),
            vec![
                (
                    "call_1".into(),
                    "get_weather".into(),
                    "{\"city\":\"Paris\"}".into(),
                ),
                (
                    "call_2".into(),
                    "get_time".into(),
                    "{\"tz\":\"UTC\"}".into(),
                ),
            ],
            "tool_calls".into(),
        )]),
        other => {
            panic!("{other}: a lenient fixture this test does not know; say what jbproxy reads")
        }
    }
}

/// The message fragment jbproxy's error must carry for each transcript the official client raised on.
fn expected_error(name: &str) -> &'static str {
    match name {
        "error_before_content" => "Model is overloaded",
        "error_after_content" => "upstream model failed",
        "error_without_message" => "upstream reported an error",
        "missing_end" => "ended before `data: end`",
        other => panic!("{other}: an error fixture this test does not know"),
    }
}

fn reading_of_completion(answer: &Value) -> Reading {
    Reading::Answers(
        answer["choices"]
            .as_array()
            .expect("choices")
            .iter()
            .map(|c| {
                let message = &c["message"];
                let calls = message["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        let f = &t["function"];
                        let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                        (s(&t["id"]), s(&f["name"]), s(&f["arguments"]))
                    })
                    .collect();
                (
                    message["content"].as_str().unwrap_or_default().to_owned(),
                    calls,
                    c["finish_reason"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    )
}

/// The same reading assembled from a chat-completion stream, or the stream's error.
fn reading_of_stream(text: &str) -> Reading {
    type Partial = (String, BTreeMap<usize, Call>, String);
    let mut answers: BTreeMap<usize, Partial> = BTreeMap::new();
    let data = sse_data(text);
    for record in &data {
        if record == "[DONE]" {
            continue;
        }
        let chunk: Value = serde_json::from_str(record).expect("json");
        if let Some(message) = chunk["error"]["message"].as_str() {
            assert!(
                !data.iter().any(|d| d == "[DONE]"),
                "an error, then [DONE]: {text}"
            );
            return Reading::Error(message.to_owned());
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let answer = answers
                .entry(choice["index"].as_u64().expect("index") as usize)
                .or_default();
            let delta = &choice["delta"];
            answer
                .0
                .push_str(delta["content"].as_str().unwrap_or_default());
            for call in delta["tool_calls"].as_array().into_iter().flatten() {
                let entry = answer
                    .1
                    .entry(call["index"].as_u64().expect("index") as usize)
                    .or_default();
                let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
                if let Some(id) = call["id"].as_str() {
                    entry.0 = id.to_owned();
                    entry.1 = s(&call["function"]["name"]);
                }
                entry
                    .2
                    .push_str(call["function"]["arguments"].as_str().unwrap_or_default());
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                answer.2 = reason.to_owned();
            }
        }
    }
    assert!(
        data.last().is_some_and(|d| d == "[DONE]"),
        "no [DONE]: {text}"
    );
    Reading::Answers(
        answers
            .into_values()
            .map(|(text, calls, reason)| (text, calls.into_values().collect(), reason))
            .collect(),
    )
}

#[tokio::test]
async fn jbproxy_reads_every_transcript_as_the_official_client_does() {
    let shared = Setup::start(&["a"], json!({})).await;
    for (name, fixture) in fixtures("streams") {
        let expected = if fixture["jbproxy"]["reads_as_official"] == true {
            official_reading(&fixture)
        } else {
            lenient_reading(&name)
        };
        // A token that faults is ejected after three faults in a row: each failing transcript gets its own.
        let own;
        let s = match expected {
            Reading::Error(_) => {
                own = Setup::start(&["a"], json!({})).await;
                &own
            }
            Reading::Answers(_) => &shared,
        };
        let sse = fixture["sse"].as_str().expect("sse");
        s.fake
            .set_behaviour("a", Behaviour::RawStream(sse.to_owned()));
        let mut body = json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]});
        if let Some(n) = fixture["number_of_choices"].as_u64() {
            body["n"] = json!(n);
        }
        // Whole.
        let response = s
            .client
            .post(s.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let answer: Value = response.json().await.expect("json");
        match &expected {
            Reading::Error(_) => {
                assert_eq!(status, 502, "{name}: {answer}");
                let message = answer["error"]["message"].as_str().expect("message");
                assert!(message.contains(expected_error(&name)), "{name}: {message}");
            }
            Reading::Answers(_) => {
                assert_eq!(status, 200, "{name}: {answer}");
                assert_eq!(reading_of_completion(&answer), expected, "{name}");
            }
        }
        // Streamed: an error before any content is a 502 like the above (nothing was sent yet); after content,
        // the stream ends with the error object and no [DONE].
        body["stream"] = json!(true);
        let response = s
            .client
            .post(s.url("/v1/chat/completions"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        match (&expected, status) {
            (Reading::Error(_), 502) => {
                assert!(text.contains(expected_error(&name)), "{name}: {text}")
            }
            (Reading::Error(_), 200) => match reading_of_stream(&text) {
                Reading::Error(message) => {
                    assert!(message.contains(expected_error(&name)), "{name}: {message}")
                }
                other => panic!("{name}: read {other:?} where the official client failed"),
            },
            (Reading::Answers(_), 200) => assert_eq!(reading_of_stream(&text), expected, "{name}"),
            _ => panic!("{name}: {status} {text}"),
        }
    }
}
