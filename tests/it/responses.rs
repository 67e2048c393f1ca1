//! The OpenAI Responses API face (`POST /v1/responses`) over real sockets: `jbproxy serve` as a process in front of
//! the in-repo fake JetBrains AI, streamed and not, with a function-call round trip, the Codex CLI 0.171.0 requests
//! of `tests/fixtures/agents/codex/` replayed in both of its shapes, the stateful fields refused, hosted tools
//! dropped, and a cut stream.
//!
//! The fake echoes the last user message (`Echo: …`), calls the first tool offered with `{"input": <that text>}`,
//! and answers a tool result with `Tool said: <result>`.

use crate::common;

use common::serve::{KEY, Setup};
use jbproxy::fake_upstream::{Behaviour, FakeOptions};
use jbproxy::profiles::{ProfileTable, parse_overrides};
use serde_json::{Value, json};

async fn post(s: &Setup, body: &Value) -> reqwest::Response {
    s.client
        .post(s.url("/v1/responses"))
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn create(s: &Setup, body: &Value) -> Value {
    let response = post(s, body).await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

/// `(type, data)` of every SSE record; each has an `event:` line naming its `type`, and the sequence numbers count
/// from 0.
fn records(body: &str) -> Vec<(String, Value)> {
    let records: Vec<(String, Value)> = body
        .split("\n\n")
        .filter(|r| !r.trim().is_empty())
        .map(|record| {
            let mut event = None;
            let mut data = None;
            for line in record.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_string());
                } else if let Some(json) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str::<Value>(json).expect("data is JSON"));
                }
            }
            let (event, data) = (event.expect("event line"), data.expect("data line"));
            assert_eq!(data["type"], event.as_str(), "{record}");
            (event, data)
        })
        .collect();
    for (i, (_, data)) in records.iter().enumerate() {
        assert_eq!(data["sequence_number"], i, "{data}");
    }
    records
}

async fn stream(s: &Setup, body: &Value) -> Vec<(String, Value)> {
    let response = post(s, body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    records(&response.text().await.expect("body"))
}

fn kinds(records: &[(String, Value)]) -> Vec<&str> {
    records.iter().map(|(n, _)| n.as_str()).collect()
}

fn streamed_text(records: &[(String, Value)]) -> String {
    records
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().expect("delta").to_string())
        .collect()
}

/// The response of the stream's `response.completed`, which must be its last event.
fn completed(records: &[(String, Value)]) -> &Value {
    let (last, data) = records.last().expect("events");
    assert_eq!(last, "response.completed", "{:?}", kinds(records));
    &data["response"]
}

/// The text of a Response's message items.
fn output_text(response: &Value) -> String {
    response["output"]
        .as_array()
        .expect("output")
        .iter()
        .filter(|item| item["type"] == "message")
        .flat_map(|item| item["content"].as_array().cloned().unwrap_or_default())
        .filter_map(|part| part["text"].as_str().map(str::to_string))
        .collect()
}

fn items_of<'a>(response: &'a Value, kind: &str) -> Vec<&'a Value> {
    response["output"]
        .as_array()
        .expect("output")
        .iter()
        .filter(|item| item["type"] == kind)
        .collect()
}

/// The last upstream request the fake received.
fn last_upstream(s: &Setup) -> Value {
    s.fake
        .requests()
        .last()
        .expect("an upstream request")
        .body
        .clone()
}

/// The tool names of an upstream body (its `llm.parameters.tools` value).
fn upstream_tools(body: &Value) -> Vec<String> {
    let data = body["parameters"]["data"].as_array().expect("parameters");
    let at = data
        .iter()
        .position(|d| d["fqdn"] == "llm.parameters.tools")
        .expect("a tools key");
    let tools: Value = serde_json::from_str(data[at + 1]["value"].as_str().expect("json text"))
        .expect("tools JSON");
    tools
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_string())
        .collect()
}

const WEATHER: &str = "get_weather";

fn weather_tool() -> Value {
    json!({"type": "function", "name": WEATHER, "description": "The weather in a city", "strict": false,
        "parameters": {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}})
}

#[tokio::test]
async fn non_streaming_response_object() {
    let s = Setup::start(&["a"], json!({})).await;
    let body = json!({"model": "gpt-4o", "input": "hello there", "instructions": "Be brief.", "store": false,
        "max_output_tokens": 64, "metadata": {"run": "7"}});
    let r = create(&s, &body).await;
    assert!(r["id"].as_str().expect("id").starts_with("resp_"), "{r}");
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["model"], "gpt-4o");
    assert!(r["created_at"].as_u64().expect("created_at") > 1_700_000_000);
    assert_eq!(r["error"], Value::Null);
    assert_eq!(r["incomplete_details"], Value::Null);
    assert_eq!(r["instructions"], "Be brief.");
    assert_eq!(r["metadata"], json!({"run": "7"}));
    assert_eq!(r["max_output_tokens"], 64);
    assert_eq!(r["store"], false);
    assert_eq!(output_text(&r), "Echo: hello there");
    let message = &r["output"][0];
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["status"], "completed");
    assert!(message["id"].as_str().expect("id").starts_with("msg_"));
    let usage = &r["usage"];
    assert!(
        usage["input_tokens"].as_u64().expect("input") > 0,
        "{usage}"
    );
    assert!(
        usage["output_tokens"].as_u64().expect("output") > 0,
        "{usage}"
    );
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(
            usage["input_tokens"].as_u64().unwrap_or(0)
                + usage["output_tokens"].as_u64().unwrap_or(0)
        )
    );
    assert_eq!(
        last_upstream(&s)["chat"]["messages"],
        json!([{"type": "system_message", "content": "Be brief."},
            {"type": "user_message", "content": "hello there"}])
    );
}

#[tokio::test]
async fn streaming_typed_events() {
    let options = FakeOptions {
        content_events: 4,
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a"], json!({}), options).await;
    let body = json!({"model": "gpt-4o", "stream": true,
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "stream me"}]}]});
    let e = stream(&s, &body).await;
    let k = kinds(&e);
    assert_eq!(
        k[..4],
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added"
        ]
    );
    assert_eq!(
        k[k.len() - 4..],
        [
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed"
        ]
    );
    assert_eq!(
        k.iter()
            .filter(|k| **k == "response.output_text.delta")
            .count(),
        4,
        "one delta per upstream content event: {k:?}"
    );
    assert_eq!(streamed_text(&e), "Echo: stream me");
    let done = &e[e.len() - 2].1["item"];
    assert_eq!(done["content"][0]["text"], "Echo: stream me");
    let response = completed(&e);
    assert_eq!(response["status"], "completed");
    assert_eq!(response["output"][0], *done);
    assert!(response["usage"]["total_tokens"].as_u64().expect("usage") > 0);
    assert_eq!(e[0].1["response"]["id"], response["id"]);
}

#[tokio::test]
async fn function_call_round_trip() {
    let s = Setup::start(&["a"], json!({})).await;
    let first = create(
        &s,
        &json!({"model": "gpt-4o", "input": "[[tool]] Paris", "tools": [weather_tool()], "tool_choice": "auto"}),
    )
    .await;
    let calls = items_of(&first, "function_call");
    assert_eq!(calls.len(), 1, "{first}");
    let call = calls[0].clone();
    assert_eq!(call["name"], WEATHER);
    assert_eq!(call["status"], "completed");
    assert!(call.get("namespace").is_none(), "{call}");
    let arguments: Value =
        serde_json::from_str(call["arguments"].as_str().expect("arguments")).expect("JSON");
    assert_eq!(arguments, json!({"input": "Paris"}));
    assert_eq!(first["tools"][0]["name"], WEATHER, "the tools are repeated");
    let call_id = call["call_id"].as_str().expect("call_id").to_string();

    // The client sends the whole conversation back: the call as it came, and its output.
    let second = create(
        &s,
        &json!({"model": "gpt-4o", "tools": [weather_tool()], "input": [
            {"role": "user", "content": "[[tool]] Paris"},
            call,
            {"type": "function_call_output", "call_id": call_id, "output": "sunny, 21 C"}
        ]}),
    )
    .await;
    assert_eq!(output_text(&second), "Tool said: sunny, 21 C");
    let messages = last_upstream(&s)["chat"]["messages"].clone();
    assert_eq!(messages[1]["type"], "assistant_message_tool");
    assert_eq!(messages[1]["id"], call_id.as_str());
    assert_eq!(
        messages[2],
        json!({"type": "tool_message", "id": call_id, "toolName": WEATHER, "result": "sunny, 21 C"})
    );
}

#[tokio::test]
async fn streamed_function_call_then_its_output() {
    let s = Setup::start(&["a"], json!({})).await;
    let e = stream(
        &s,
        &json!({"model": "gpt-4o", "stream": true, "input": "[[tool]] Berlin", "tools": [weather_tool()]}),
    )
    .await;
    let k = kinds(&e);
    assert!(
        k.contains(&"response.function_call_arguments.delta"),
        "{k:?}"
    );
    let done = e
        .iter()
        .find(|(n, _)| n == "response.function_call_arguments.done")
        .expect("arguments done");
    assert_eq!(done.1["name"], WEATHER);
    let streamed: String = e
        .iter()
        .filter(|(n, _)| n == "response.function_call_arguments.delta")
        .map(|(_, d)| d["delta"].as_str().expect("delta").to_string())
        .collect();
    assert_eq!(streamed, done.1["arguments"].as_str().expect("arguments"));
    let response = completed(&e);
    let call = items_of(response, "function_call")[0].clone();
    assert_eq!(call["arguments"], json!({"input": "Berlin"}).to_string());

    let e = stream(
        &s,
        &json!({"model": "gpt-4o", "stream": true, "tools": [weather_tool()], "input": [
            {"role": "user", "content": "[[tool]] Berlin"},
            call.clone(),
            {"type": "function_call_output", "call_id": call["call_id"], "output": "rain"}
        ]}),
    )
    .await;
    assert_eq!(streamed_text(&e), "Tool said: rain");
    completed(&e);
}

#[tokio::test]
async fn stateful_requests_are_refused_with_a_clear_400() {
    let s = Setup::start(&["a"], json!({})).await;
    for (field, value) in [
        ("store", json!(true)),
        ("previous_response_id", json!("resp_123")),
    ] {
        let mut body = json!({"model": "gpt-4o", "input": "hi"});
        body[field] = value;
        let response = post(&s, &body).await;
        assert_eq!(response.status(), 400, "{field}");
        let error: Value = response.json().await.expect("json");
        assert_eq!(error["error"]["type"], "invalid_request_error", "{error}");
        assert_eq!(error["error"]["param"], field, "{error}");
        let message = error["error"]["message"].as_str().expect("message");
        assert!(message.contains("jbproxy keeps no state"), "{message}");
        assert!(
            message.contains("\"input\""),
            "says what to send instead: {message}"
        );
    }
    assert!(s.fake.requests().is_empty(), "nothing reached the upstream");
}

#[tokio::test]
async fn hosted_tools_are_dropped_not_refused() {
    let s = Setup::start(&["a"], json!({})).await;
    let body = json!({"model": "gpt-4o", "input": "hi", "store": false,
        "tools": [{"type": "web_search"}, {"type": "file_search", "vector_store_ids": ["vs_1"]}],
        "include": ["web_search_call.action.sources", "reasoning.encrypted_content"],
        "reasoning": {"effort": "low", "summary": "auto"}});
    let r = create(&s, &body).await;
    assert_eq!(
        output_text(&r),
        "Echo: hi",
        "no tool was offered, so the fake answers with text"
    );
    assert_eq!(r["tools"], json!([]));
    assert!(
        last_upstream(&s)
            .get("parameters")
            .is_none_or(|p| !p.to_string().contains("web_search")),
        "{}",
        last_upstream(&s)
    );
    let logs = s.proxy.logs();
    assert!(
        logs.contains("not sent upstream: tools[0]: tool type \\\"web_search\\\"")
            || logs.contains("not sent upstream: tools[0]: tool type \"web_search\""),
        "{logs}"
    );
}

#[tokio::test]
async fn a_cut_stream_ends_with_response_failed() {
    let options = FakeOptions {
        content_events: 6,
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a"], json!({}), options).await;
    s.fake
        .set_behaviour("a", Behaviour::CutMidStream { after_events: 3 });
    let e = stream(
        &s,
        &json!({"model": "gpt-4o", "stream": true, "input": "a long answer to cut"}),
    )
    .await;
    let k = kinds(&e);
    assert!(k.contains(&"response.output_text.delta"), "{k:?}");
    assert!(!k.contains(&"response.completed"), "{k:?}");
    assert_eq!(k[k.len() - 2..], ["response.failed", "error"], "{k:?}");
    let failed = &e[e.len() - 2].1["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "server_error");
    assert!(
        failed["error"]["message"]
            .as_str()
            .expect("message")
            .contains("cut"),
        "{failed}"
    );
    assert_eq!(e[e.len() - 1].1["code"], "stream_interrupted");
}

#[tokio::test]
async fn unknown_model_and_bad_items_answer_openai_errors() {
    let s = Setup::start(&["a"], json!({})).await;
    let response = post(&s, &json!({"model": "no-such-model", "input": "hi"})).await;
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.expect("json");
    assert_eq!(error["error"]["code"], "model_not_found");
    let response = post(
        &s,
        &json!({"model": "gpt-4o", "input": [{"type": "item_reference", "id": "msg_1"}]}),
    )
    .await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.expect("json");
    assert_eq!(error["error"]["param"], "input[0].type", "{error}");
    let response = s
        .client
        .post(s.url("/v1/responses"))
        .json(&json!({"model": "gpt-4o", "input": "hi"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401, "the client key is required");
}

// ---- Codex CLI 0.171.0, replayed from its captured requests

/// The requests of a captured Codex run: `(headers, body)` each.
fn codex_requests(name: &str) -> Vec<(Vec<(String, String)>, Value)> {
    let path = format!(
        "{}/tests/fixtures/agents/codex/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("fixture");
    let exchanges: Vec<Value> = serde_json::from_str(&text).expect("fixture JSON");
    exchanges
        .into_iter()
        .map(|exchange| {
            assert_eq!(exchange["path"], "/v1/responses");
            let headers = exchange["headers"]
                .as_object()
                .expect("headers")
                .iter()
                // Our own key instead of the redacted one; no compressed answers to decode.
                .filter(|(k, _)| *k != "authorization" && *k != "accept-encoding")
                .map(|(k, v)| (k.clone(), v.as_str().expect("header").to_string()))
                .collect();
            (headers, exchange["body"].clone())
        })
        .collect()
}

/// `body` with the fake upstream's tool directive (`[[tool:NAME]]`, see `fake_upstream::directive`) put before the
/// text of its last user message, so the fake answers with a call to that tool.
fn with_directive(mut body: Value, directive: &str) -> Value {
    let input = body["input"].as_array_mut().expect("input items");
    let user = input
        .iter_mut()
        .rev()
        .find(|item| item["role"] == "user")
        .expect("a user message");
    match &mut user["content"] {
        Value::String(text) => *text = format!("{directive} {text}"),
        Value::Array(parts) => {
            let part = parts
                .iter_mut()
                .rev()
                .find(|p| p["type"] == "input_text")
                .expect("a text part");
            let text = part["text"].as_str().expect("text").to_string();
            part["text"] = Value::String(format!("{directive} {text}"));
        }
        other => panic!("unexpected content {other}"),
    }
    body
}

/// Sends a captured request as Codex did (its headers, `stream: true`) and reads the events.
async fn replay(s: &Setup, headers: &[(String, String)], body: &Value) -> Vec<(String, Value)> {
    let mut request = s.client.post(s.url("/v1/responses")).bearer_auth(KEY);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = request.json(body).send().await.expect("request");
    assert_eq!(response.status(), 200);
    records(&response.text().await.expect("body"))
}

/// The `response.output_item.done` items of a stream: what Codex acts on.
fn done_items(records: &[(String, Value)]) -> Vec<Value> {
    records
        .iter()
        .filter(|(n, _)| n == "response.output_item.done")
        .map(|(_, d)| d["item"].clone())
        .collect()
}

/// The built-in profile table gives codex profiles no tools (docs/UPSTREAM.md: the upstream takes none there), so
/// these replays, which test the face's handling of Codex's own tools, grant them the tool keys the way an operator
/// would, with `profile_parameters`, in jbproxy's config and in the fake's table alike. `extra` is more config.
async fn codex_setup(extra: Value) -> Setup {
    let overrides = json!({"openai-*codex*": {"parameters": ["tools", "tool-choice-auto", "tool-choice-none",
        "tool-choice-required", "tool-choice-named", "parallel-tool-calls"]}});
    let options = FakeOptions {
        profiles: ProfileTable::new(
            &parse_overrides(overrides.clone()).expect("valid"),
            Default::default(),
        ),
        ..FakeOptions::default()
    };
    let mut config = extra;
    config["profile_parameters"] = overrides;
    Setup::with_options(&["a"], config, options).await
}

#[tokio::test]
async fn codex_on_a_codex_profile_gets_text_without_tools_by_default() {
    let s = Setup::start(&["a"], json!({})).await;
    let requests = codex_requests("exec-gpt-5.1-codex-tool-roundtrip-mcp.json");
    let (headers, first) = requests[0].clone();
    let first = with_directive(first, "[[tool:probe_nonce]]");
    let e = replay(&s, &headers, &first).await;
    completed(&e);
    // The tools were left out (the profile takes none), not refused: Codex gets an answer, and the fake says it
    // saw no tools to call.
    let upstream = last_upstream(&s);
    assert_eq!(upstream["profile"], "openai-gpt-5-1-codex");
    assert!(upstream.get("parameters").is_none(), "{upstream}");
    assert!(
        streamed_text(&e).contains("the request offers no tools"),
        "{}",
        streamed_text(&e)
    );
}

#[tokio::test]
async fn codex_classic_shape_plain_turn() {
    let s = codex_setup(json!({})).await;
    let requests = codex_requests("exec-model-gpt-5.1-codex.json");
    let (headers, body) = &requests[0];
    let e = replay(&s, headers, body).await;
    let response = completed(&e);
    // No directive: the fake answers with text, though tools were offered.
    let items = done_items(&e);
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["type"], "message");
    assert_eq!(streamed_text(&e), "Echo: Say hello");
    assert_eq!(response["output"][0], items[0]);
    let upstream = last_upstream(&s);
    assert_eq!(upstream["profile"], "openai-gpt-5-1-codex");
    let tools = upstream_tools(&upstream);
    assert_eq!(tools.len(), 7 + 5, "{tools:?}");
    assert!(
        tools.contains(&"multi_agent_v1__spawn_agent".to_string()),
        "{tools:?}"
    );
    assert!(!tools.iter().any(|t| t.contains("web_search")), "{tools:?}");
    let messages = upstream["chat"]["messages"].as_array().expect("messages");
    assert_eq!(
        messages
            .iter()
            .map(|m| m["type"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        [
            "system_message",
            "system_message",
            "user_message",
            "user_message"
        ]
    );
    assert_eq!(messages[3]["content"], "Say hello");
}

#[tokio::test]
async fn codex_classic_shape_namespaced_tool_round_trip() {
    let s = codex_setup(json!({})).await;
    let requests = codex_requests("exec-gpt-5.1-codex-tool-roundtrip-mcp.json");
    // The directive makes the fake call the MCP tool, offered inside the `mcp__probe` namespace.
    let (headers, first) = requests[0].clone();
    let first = with_directive(first, "[[tool:probe_nonce]]");
    let e = replay(&s, &headers, &first).await;
    completed(&e);
    let items = done_items(&e);
    assert_eq!(items.len(), 1, "{items:?}");
    let call = &items[0];
    assert_eq!(call["type"], "function_call");
    assert_eq!(call["name"], "probe_nonce", "{call}");
    assert_eq!(call["namespace"], "mcp__probe", "{call}");
    assert_eq!(
        serde_json::from_str::<Value>(call["arguments"].as_str().expect("arguments"))
            .expect("JSON"),
        json!({"input": "Call the probe_nonce tool"})
    );
    assert!(upstream_tools(&last_upstream(&s)).contains(&"mcp__probe__probe_nonce".to_string()));

    // Codex's next request, as captured: the call (namespace kept) and its output, a list of input_text.
    let (headers, second) = &requests[1];
    let e = replay(&s, headers, second).await;
    completed(&e);
    assert_eq!(
        streamed_text(&e),
        "Tool said: Wall time: 0.0123 seconds\nOutput:\nnonce=n0nce-4242"
    );
    let messages = last_upstream(&s)["chat"]["messages"].clone();
    let messages = messages.as_array().expect("messages");
    let n = messages.len();
    assert_eq!(messages[n - 2]["type"], "assistant_message_tool");
    assert_eq!(messages[n - 2]["toolName"], "mcp__probe__probe_nonce");
    assert_eq!(messages[n - 1]["type"], "tool_message");
    assert_eq!(messages[n - 1]["id"], "call_0003");
}

#[tokio::test]
async fn codex_lite_shape_custom_tool_round_trip() {
    // Codex's default model; a config alias points it at a codex profile.
    let s = codex_setup(json!({"models": {"gpt-6.2-sol": "openai-gpt-5-1-codex"}})).await;
    let requests = codex_requests("exec-default-tool-roundtrip-code-mode.json");
    let (headers, first) = &requests[0];
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "x-openai-internal-codex-responses-lite" && v == "true")
    );
    let first = with_directive(first.clone(), "[[tool:exec]]");
    let e = replay(&s, headers, &first).await;
    let response = completed(&e);
    // The tools came as an additional_tools input item; the directive picked the custom tool `exec`.
    let items = done_items(&e);
    assert_eq!(items.len(), 1, "{items:?}");
    let call = &items[0];
    assert_eq!(call["type"], "custom_tool_call", "{call}");
    assert_eq!(call["name"], "exec");
    assert!(call.get("namespace").is_none(), "{call}");
    assert_eq!(call["input"], "Call the probe_nonce tool");
    assert!(call["call_id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(
        kinds(&e).contains(&"response.custom_tool_call_input.done"),
        "{:?}",
        kinds(&e)
    );
    assert_eq!(response["text"]["verbosity"], "low");
    assert_eq!(response["parallel_tool_calls"], false);
    let upstream = last_upstream(&s);
    let tools = upstream_tools(&upstream);
    assert_eq!(tools[0], "exec");
    assert!(tools.contains(&"clock__sleep".to_string()), "{tools:?}");
    assert!(
        tools.contains(&"collaboration__spawn_agent".to_string()),
        "{tools:?}"
    );
    assert!(
        tools.contains(&"wait".to_string()),
        "the default namespace keeps plain names: {tools:?}"
    );

    // The next request, as captured: the custom call and its output (a list of input_text).
    let (headers, second) = &requests[1];
    let e = replay(&s, headers, second).await;
    completed(&e);
    let text = streamed_text(&e);
    assert!(text.starts_with("Tool said: Script completed"), "{text}");
    assert!(text.contains("nonce=n0nce-4242"), "{text}");
    let messages = last_upstream(&s)["chat"]["messages"].clone();
    let messages = messages.as_array().expect("messages");
    let n = messages.len();
    assert_eq!(messages[n - 2]["toolName"], "exec");
    let arguments: Value =
        serde_json::from_str(messages[n - 2]["content"].as_str().expect("content")).expect("JSON");
    assert_eq!(
        arguments,
        json!({"input": "text(await tools.mcp__probe__probe_nonce({input: \"x\"}))"})
    );
}
