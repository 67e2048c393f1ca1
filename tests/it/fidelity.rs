//! Speaking JetBrains AI as JetBrains' own client does (issue 13 items 1–4, issue 14 items 3–5, issue 18 items 2,
//! 3, 5, 6), over real sockets against the fake upstream: parameters sent, left out or refused per profile, the
//! fake honouring them (several choices, a length limit, JSON formats, tool choice), stream error events, parallel
//! tool calls whose fragments interleave, and the messages the upstream would refuse; on every face, the Responses
//! API's included.

use std::time::Duration;

use serde_json::{Value, json};

use jbproxy::fake_upstream::{Behaviour, FakeOptions};
use jbproxy::profiles::{ProfileTable, parse_overrides};

use crate::common::eventually;
use crate::common::serve::{KEY, Setup, sse_data};

async fn post(s: &Setup, path: &str, body: &Value) -> reqwest::Response {
    s.client
        .post(s.url(path))
        .bearer_auth(KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .expect("request")
}

async fn ok_json(s: &Setup, path: &str, body: &Value) -> Value {
    let response = post(s, path, body).await;
    let status = response.status();
    let json: Value = response.json().await.expect("json");
    assert_eq!(status, 200, "{json}\n{}", s.proxy.logs());
    json
}

/// Status and error message of a refused request.
async fn refused(s: &Setup, path: &str, body: &Value) -> (u16, String, Value) {
    let response = post(s, path, body).await;
    let status = response.status().as_u16();
    let json: Value = response.json().await.expect("json");
    let message = json["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, message, json)
}

/// The last chat body the fake received.
fn last_upstream(s: &Setup) -> Value {
    s.fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.contains("/llm/"))
        .map(|r| r.body)
        .expect("an upstream chat request")
}

/// `fqdn (short) → value` of the pairs sent.
fn sent_parameters(body: &Value) -> Vec<(String, Value)> {
    body["parameters"]["data"]
        .as_array()
        .map(|data| {
            data.chunks(2)
                .map(|pair| {
                    let fqdn = pair[0]["fqdn"].as_str().expect("fqdn");
                    (
                        fqdn.trim_start_matches("llm.parameters.").to_owned(),
                        pair[1]["value"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn keys(body: &Value) -> Vec<String> {
    sent_parameters(body).into_iter().map(|(k, _)| k).collect()
}

fn chat(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

fn tool(name: &str) -> Value {
    json!({"type": "function", "function": {"name": name, "parameters": {"type": "object",
        "properties": {"input": {"type": "string"}}, "required": ["input"]}}})
}

#[tokio::test]
async fn sampling_parameters_reach_the_profiles_that_take_them_and_no_other() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut body = chat("gpt-4o", "hi");
    for (k, v) in [
        ("temperature", json!(0.7)),
        ("top_p", json!(0.9)),
        ("max_tokens", json!(256)),
        ("stop", json!(["END", "STOP"])),
        ("seed", json!(42)),
        ("presence_penalty", json!(0.5)),
    ] {
        body[k] = v;
    }
    ok_json(&s, "/v1/chat/completions", &body).await;
    // The OpenAI family takes no stop-token (jb-ai-proxy's tested list); penalties have no upstream key at all.
    assert_eq!(
        sent_parameters(&last_upstream(&s)),
        [
            ("temperature".into(), json!(0.7)),
            ("top-p".into(), json!(0.9)),
            ("length".into(), json!(256)),
            ("seed".into(), json!(42)),
        ]
    );
    // Claude profiles take one stop sequence: the first.
    let claude = json!({"model": "claude-sonnet-4-5", "max_tokens": 9, "stop_sequences": ["END", "STOP"],
        "messages": [{"role": "user", "content": "hi"}]});
    ok_json(&s, "/v1/messages", &claude).await;
    assert_eq!(
        sent_parameters(&last_upstream(&s)),
        [
            ("length".into(), json!(9)),
            ("stop-token".into(), json!("END"))
        ]
    );
    // gpt-5 takes no temperature: left out, said at debug level, and the fake (which refuses it, as upstream
    // does) answers.
    let mut body = chat("gpt-5", "hi");
    body["temperature"] = json!(0.2);
    body["reasoning_effort"] = json!("low");
    ok_json(&s, "/v1/chat/completions", &body).await;
    assert_eq!(keys(&last_upstream(&s)), ["reasoning-effort"]);
    // The log is written off the request path: wait for the line.
    let said = eventually(Duration::from_secs(5), || async {
        let logs = s.proxy.logs();
        logs.contains("not sent upstream: the profile does not take these parameters")
            && logs.contains("temperature")
    })
    .await;
    assert!(said, "{}", s.proxy.logs());
}

#[tokio::test]
async fn the_config_overrides_which_parameters_a_profile_takes() {
    let overrides = json!({"anthropic-*": {"parameters": ["length", "temperature"]},
                           "openai-gpt-4o": {"parameters": ["length"]}});
    let options = FakeOptions {
        profiles: ProfileTable::new(
            &parse_overrides(overrides.clone()).expect("valid"),
            Default::default(),
        ),
        ..FakeOptions::default()
    };
    let s = Setup::with_options(&["a"], json!({"profile_parameters": overrides}), options).await;
    let mut body = chat("claude-sonnet-4-5", "hi");
    body["temperature"] = json!(0.3);
    ok_json(&s, "/v1/chat/completions", &body).await;
    assert_eq!(keys(&last_upstream(&s)), ["temperature"]);
    // gpt-4o no longer takes response-format here: JSON output cannot be promised, so it is refused.
    let mut body = chat("gpt-4o", "hi");
    body["response_format"] = json!({"type": "json_object"});
    let (status, message, json) = refused(&s, "/v1/chat/completions", &body).await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["error"]["param"], "response_format");
    assert!(
        message.contains("does not take response-format"),
        "{message}"
    );
}

#[test]
fn a_bad_profile_parameters_entry_stops_the_start_with_the_reason() {
    let dir = crate::common::tempdir();
    let config = crate::common::write(
        dir.path(),
        "config.json",
        r#"{"jetbrains_tokens": [], "profile_parameters": {"openai-gpt-4o": {"parameters": ["temprature"]}}}"#,
    );
    let run = crate::common::run(
        crate::common::jbproxy(dir.path())
            .arg("--config")
            .arg(&config)
            .arg("print-config"),
    );
    assert_eq!(run.code, Some(2), "{}", run.all());
    assert!(
        run.all()
            .contains("profile_parameters: openai-gpt-4o.parameters: \"temprature\" is not an upstream parameter"),
        "{}",
        run.all()
    );
}

#[tokio::test]
async fn several_choices_come_back_as_choices_in_both_modes() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut body = chat("gpt-4o", "Paris");
    body["n"] = json!(3);
    let answer = ok_json(&s, "/v1/chat/completions", &body).await;
    let contents: Vec<&str> = answer["choices"]
        .as_array()
        .expect("choices")
        .iter()
        .map(|c| c["message"]["content"].as_str().expect("text"))
        .collect();
    assert_eq!(
        contents,
        ["Echo: Paris", "Echo: Paris [2]", "Echo: Paris [3]"]
    );
    assert_eq!(keys(&last_upstream(&s)), ["number-of-choices"]);
    body["stream"] = json!(true);
    let text = post(&s, "/v1/chat/completions", &body)
        .await
        .text()
        .await
        .expect("body");
    let mut streamed = vec![String::new(); 3];
    let mut finished = vec![None; 3];
    for data in sse_data(&text) {
        let Ok(chunk) = serde_json::from_str::<Value>(&data) else {
            continue;
        };
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            let i = choice["index"].as_u64().expect("index") as usize;
            streamed[i].push_str(choice["delta"]["content"].as_str().unwrap_or_default());
            if let Some(reason) = choice["finish_reason"].as_str() {
                finished[i] = Some(reason.to_owned());
            }
        }
    }
    assert_eq!(streamed, contents);
    assert!(
        finished.iter().all(|r| r.as_deref() == Some("stop")),
        "{finished:?}"
    );
}

#[tokio::test]
async fn the_length_limit_is_sent_and_reaching_it_says_so_on_both_faces() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut body = chat("gpt-4o", "a long question");
    body["max_tokens"] = json!(1);
    let answer = ok_json(&s, "/v1/chat/completions", &body).await;
    assert_eq!(answer["choices"][0]["finish_reason"], "length");
    assert_eq!(answer["choices"][0]["message"]["content"], "Echo");
    let claude = json!({"model": "claude-sonnet-4-5", "max_tokens": 2,
        "messages": [{"role": "user", "content": "a long question"}]});
    let message = ok_json(&s, "/v1/messages", &claude).await;
    assert_eq!(message["stop_reason"], "max_tokens");
    assert_eq!(message["content"][0]["text"], "Echo: a ");
    assert_eq!(
        sent_parameters(&last_upstream(&s)),
        [("length".into(), json!(2))]
    );
}

#[tokio::test]
async fn json_formats_are_honoured_where_the_profile_takes_them_and_refused_elsewhere() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut body = chat("gpt-4o", "Paris");
    body["response_format"] = json!({"type": "json_schema", "json_schema": {"name": "city", "strict": true,
        "schema": {"type": "object", "properties": {"name": {"type": "string"}, "country": {"type": "string"}},
        "required": ["name", "country"]}}});
    let answer = ok_json(&s, "/v1/chat/completions", &body).await;
    let content: Value = serde_json::from_str(
        answer["choices"][0]["message"]["content"]
            .as_str()
            .expect("text"),
    )
    .expect("the answer is JSON");
    assert_eq!(content, json!({"name": "Paris", "country": "Paris"}));
    let sent = sent_parameters(&last_upstream(&s));
    assert_eq!(sent[0].0, "response-format");
    let value: Value =
        serde_json::from_str(sent[0].1.as_str().expect("a JSON string")).expect("json");
    assert_eq!(value["type"], "json_schema");
    assert_eq!(value["json_schema"]["name"], "city");
    // o3 takes no response-format: refused before any upstream call, naming the field.
    let calls = s.fake.requests().len();
    body["model"] = json!("o3");
    let (status, message, json) = refused(&s, "/v1/chat/completions", &body).await;
    assert_eq!(
        (status, json["error"]["param"].as_str()),
        (400, Some("response_format"))
    );
    assert!(
        message.contains("openai-o3 does not take response-format"),
        "{message}"
    );
    // Anthropic's output_config.format on a Claude profile (none takes response-format): refused in
    // Anthropic's names.
    let claude = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
        "messages": [{"role": "user", "content": "title?"}]});
    let (status, message, json) = refused(&s, "/v1/messages", &claude).await;
    assert_eq!(status, 400, "{json}");
    assert_eq!(json["error"]["type"], "invalid_request_error");
    assert!(message.starts_with("output_config.format: "), "{message}");
    assert_eq!(s.fake.requests().len(), calls);
}

#[tokio::test]
async fn tool_choice_is_honoured_end_to_end() {
    let s = Setup::start(&["a"], json!({})).await;
    let tools = json!([tool("get_time"), tool("get_weather")]);
    // Named: the fake calls the named tool, not the first.
    let mut body = chat("gpt-4o", "Paris");
    body["tools"] = tools.clone();
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    body["parallel_tool_calls"] = json!(false);
    let answer = ok_json(&s, "/v1/chat/completions", &body).await;
    assert_eq!(
        answer["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );
    assert_eq!(
        sent_parameters(&last_upstream(&s))[1..],
        [
            ("tool-choice-named".into(), json!("get_weather")),
            ("parallel-tool-calls".into(), json!(false))
        ]
    );
    // The fake's `[[tools]]` directive asks for every tool at once. Parallel calls allowed, two tools: the fake calls
    // both, fragments interleaved, and each comes back whole; one at a time: a single call.
    let mut both = chat("gpt-4o", "[[tools]] Paris");
    both["tools"] = tools.clone();
    both["parallel_tool_calls"] = json!(true);
    let answer = ok_json(&s, "/v1/chat/completions", &both).await;
    let calls = answer["choices"][0]["message"]["tool_calls"]
        .as_array()
        .expect("calls");
    assert_eq!(calls.len(), 2, "{answer}");
    for call in calls {
        let arguments: Value =
            serde_json::from_str(call["function"]["arguments"].as_str().expect("arguments"))
                .expect("each call's arguments are whole JSON");
        assert_eq!(arguments, json!({"input": "Paris"}));
    }
    both["parallel_tool_calls"] = json!(false);
    let answer = ok_json(&s, "/v1/chat/completions", &both).await;
    assert_eq!(
        answer["choices"][0]["message"]["tool_calls"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // None: the tools stay defined (a history may hold calls), tool-choice-none says not to call, and the answer
    // is text.
    body["tool_choice"] = json!("none");
    let answer = ok_json(&s, "/v1/chat/completions", &body).await;
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_eq!(answer["choices"][0]["message"]["content"], "Echo: Paris");
    assert_eq!(keys(&last_upstream(&s))[..2], ["tools", "tool-choice-none"]);
    // Required, after a tool result: still a call, as a model under tool_choice "required" answers.
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 99,
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any"},
        "messages": [{"role": "user", "content": "Paris"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]}]});
    let message = ok_json(&s, "/v1/messages", &body).await;
    assert_eq!(message["stop_reason"], "tool_use");
    assert_eq!(message["content"][0]["name"], "get_weather");
}

#[tokio::test]
async fn codex_profiles_get_no_tools_and_a_required_call_there_is_refused() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut body = chat("openai-gpt-5-1-codex", "Paris");
    body["tools"] = json!([tool("get_weather")]);
    let answer = ok_json(&s, "/v1/chat/completions", &body).await;
    assert_eq!(answer["choices"][0]["message"]["content"], "Echo: Paris");
    let sent = last_upstream(&s);
    assert!(sent.get("parameters").is_none(), "{sent}");
    body["tool_choice"] = json!("required");
    let (status, message, _) = refused(&s, "/v1/chat/completions", &body).await;
    assert_eq!(status, 400);
    assert!(message.contains("takes no tools"), "{message}");
}

#[tokio::test]
async fn blank_text_is_dropped_and_a_prefill_is_refused_where_the_model_takes_none() {
    let s = Setup::start(&["a"], json!({})).await;
    // The fake refuses blank text on Claude profiles, as the real service does: jbproxy never sends it.
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "system": [{"type": "text", "text": " "}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "\n"}, {"type": "text", "text": "Hi"}]},
            {"role": "assistant", "content": [{"type": "text", "text": " "}]},
            {"role": "user", "content": "Again"}]});
    ok_json(&s, "/v1/messages", &body).await;
    assert_eq!(
        last_upstream(&s)["chat"]["messages"],
        json!([{"type": "user_message", "content": "Hi"}, {"type": "user_message", "content": "Again"}])
    );
    // A conversation ending with an assistant message on Claude 4.6: jbproxy says why, before any upstream call.
    let calls = s.fake.requests().len();
    let prefill = json!({"model": "claude-sonnet-4-6", "max_tokens": 64, "messages": [
        {"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "The colour is"}]});
    let (status, message, json) = refused(&s, "/v1/messages", &prefill).await;
    assert_eq!(status, 400, "{json}");
    assert!(
        message
            .starts_with("messages[1]: the conversation ends with an assistant message (prefill)"),
        "{message}"
    );
    assert_eq!(s.fake.requests().len(), calls);
    // Claude 4.5 takes a prefill.
    let mut older = prefill.clone();
    older["model"] = json!("claude-sonnet-4-5");
    ok_json(&s, "/v1/messages", &older).await;
}

/// `data:` lines as JetBrains' gateway writes them.
fn sse(events: &[Value]) -> String {
    let mut out: String = events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e["event_type"] = json!("data");
            format!("data: {e}\n\n")
        })
        .collect();
    out.push_str("data: end\n\n");
    out
}

fn interleaved_calls() -> String {
    sse(&[
        json!({"type": "ToolCall", "parallelToolIndex": 0, "id": "call_a", "name": "get_weather", "content": ""}),
        json!({"type": "ToolCall", "parallelToolIndex": 1, "id": "call_b", "name": "get_time", "content": ""}),
        json!({"type": "ToolCall", "parallelToolIndex": 0, "content": "{\"city\":"}),
        json!({"type": "ToolCall", "parallelToolIndex": 1, "content": "{\"tz\":"}),
        json!({"type": "ToolCall", "parallelToolIndex": 1, "content": "\"UTC\"}"}),
        json!({"type": "ToolCall", "parallelToolIndex": 0, "content": "\"Paris\"}"}),
        json!({"type": "FinishMetadata", "reason": "tool_call"}),
    ])
}

#[tokio::test]
async fn interleaved_parallel_calls_never_mix_on_any_face() {
    let s = Setup::start(&["a"], json!({})).await;
    s.fake
        .set_behaviour("a", Behaviour::RawStream(interleaved_calls()));
    let answer = ok_json(&s, "/v1/chat/completions", &chat("gpt-4o", "both")).await;
    let calls: Vec<(String, String, String)> = answer["choices"][0]["message"]["tool_calls"]
        .as_array()
        .expect("calls")
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap_or_default().to_owned(),
                c["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                c["function"]["arguments"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            (
                "call_a".into(),
                "get_weather".into(),
                "{\"city\":\"Paris\"}".into()
            ),
            (
                "call_b".into(),
                "get_time".into(),
                "{\"tz\":\"UTC\"}".into()
            ),
        ]
    );
    // Anthropic, not streamed: each input an object.
    let claude = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "messages": [{"role": "user", "content": "both"}]});
    let message = ok_json(&s, "/v1/messages", &claude).await;
    assert_eq!(
        message["content"],
        json!([
            {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_b", "name": "get_time", "input": {"tz": "UTC"}},
        ])
    );
    // Anthropic, streamed: each block whole (start, deltas, stop), never two open at once.
    let mut streamed = claude.clone();
    streamed["stream"] = json!(true);
    let text = post(&s, "/v1/messages", &streamed)
        .await
        .text()
        .await
        .expect("body");
    let mut open = None;
    let mut inputs: Vec<(String, String)> = Vec::new();
    for data in sse_data(&text) {
        let event: Value = serde_json::from_str(&data).expect("json");
        match event["type"].as_str() {
            Some("content_block_start") => {
                assert_eq!(open, None, "a block started inside another: {text}");
                open = event["index"].as_u64();
                let id = event["content_block"]["id"].as_str().unwrap_or_default();
                inputs.push((id.to_owned(), String::new()));
            }
            Some("content_block_delta") => {
                assert_eq!(event["index"].as_u64(), open, "{text}");
                let piece = event["delta"]["partial_json"].as_str().unwrap_or_default();
                inputs.last_mut().expect("a block").1.push_str(piece);
            }
            Some("content_block_stop") => open = None,
            _ => {}
        }
    }
    assert_eq!(
        inputs,
        [
            ("call_a".to_owned(), "{\"city\":\"Paris\"}".to_owned()),
            ("call_b".to_owned(), "{\"tz\":\"UTC\"}".to_owned()),
        ]
    );
    // The Responses API, not streamed: one function_call item per call, each with its whole arguments.
    let responses = json!({"model": "gpt-4o", "input": "both", "store": false});
    let response = ok_json(&s, "/v1/responses", &responses).await;
    let calls: Vec<(String, String, String)> = response["output"]
        .as_array()
        .expect("output")
        .iter()
        .map(|item| {
            assert_eq!(item["type"], "function_call", "{item}");
            let field = |k: &str| item[k].as_str().unwrap_or_default().to_owned();
            (field("call_id"), field("name"), field("arguments"))
        })
        .collect();
    let whole = [
        (
            "call_a".to_owned(),
            "get_weather".to_owned(),
            "{\"city\":\"Paris\"}".to_owned(),
        ),
        (
            "call_b".to_owned(),
            "get_time".to_owned(),
            "{\"tz\":\"UTC\"}".to_owned(),
        ),
    ];
    assert_eq!(calls, whole);
    // Streamed: each item's events together (added, deltas, done), never two items open at once.
    let mut streamed = responses.clone();
    streamed["stream"] = json!(true);
    let text = post(&s, "/v1/responses", &streamed)
        .await
        .text()
        .await
        .expect("body");
    let mut open: Option<String> = None;
    let mut deltas = String::new();
    let mut done = Vec::new();
    for data in sse_data(&text) {
        let event: Value = serde_json::from_str(&data).expect("json");
        match event["type"].as_str() {
            Some("response.output_item.added") => {
                assert_eq!(open, None, "an item added inside another: {text}");
                open = event["item"]["id"].as_str().map(str::to_owned);
                deltas.clear();
            }
            Some("response.function_call_arguments.delta") => {
                assert_eq!(event["item_id"].as_str(), open.as_deref(), "{text}");
                deltas.push_str(event["delta"].as_str().unwrap_or_default());
            }
            Some("response.output_item.done") => {
                let item = &event["item"];
                assert_eq!(item["id"].as_str(), open.as_deref(), "{text}");
                assert_eq!(item["arguments"].as_str(), Some(deltas.as_str()), "{text}");
                let field = |k: &str| item[k].as_str().unwrap_or_default().to_owned();
                done.push((field("call_id"), field("name"), field("arguments")));
                open = None;
            }
            _ => {}
        }
    }
    assert_eq!(done, whole, "{text}");
    assert!(text.contains("event: response.completed"), "{text}");
}

#[tokio::test]
async fn an_error_event_before_any_content_fails_over_like_a_5xx() {
    let s = Setup::start(&["a", "b"], json!({})).await;
    let failing = sse(&[]).replace(
        "data: end",
        "data: {\"event_type\":\"error\",\"error_message\":\"Model is overloaded\"}\n\ndata: end",
    );
    s.fake
        .set_behaviour("a", Behaviour::RawStream(failing.clone()));
    s.fake.set_behaviour("b", Behaviour::RawStream(failing));
    let (status, message, _) = refused(&s, "/v1/chat/completions", &chat("gpt-4o", "hi")).await;
    assert_eq!(status, 502);
    assert!(
        message.contains("failed on 2 attempt(s)") && message.contains("Model is overloaded"),
        "{message}"
    );
    // With one token answering, the request is served by it.
    s.fake.set_behaviour("b", Behaviour::Ok);
    let answer = ok_json(&s, "/v1/chat/completions", &chat("gpt-4o", "hi")).await;
    assert_eq!(answer["choices"][0]["message"]["content"], "Echo: hi");
}

#[tokio::test]
async fn an_error_event_after_content_ends_the_answer_with_an_error() {
    let s = Setup::start(&["a"], json!({})).await;
    let cut = sse(&[json!({"type": "Content", "content": "Partial "})]).replace(
        "data: end",
        "data: {\"event_type\":\"error\",\"error_message\":\"upstream model failed\"}\n\ndata: end",
    );
    s.fake.set_behaviour("a", Behaviour::RawStream(cut.clone()));
    // Not streamed: a 502 with the upstream's message.
    let (status, message, _) = refused(&s, "/v1/chat/completions", &chat("gpt-4o", "hi")).await;
    assert_eq!(status, 502);
    assert!(message.contains("upstream model failed"), "{message}");
    let mut body = chat("gpt-4o", "hi");
    body["stream"] = json!(true);
    let text = post(&s, "/v1/chat/completions", &body)
        .await
        .text()
        .await
        .expect("body");
    let data = sse_data(&text);
    assert!(!data.iter().any(|d| d == "[DONE]"), "{text}");
    let last: Value = serde_json::from_str(data.last().expect("records")).expect("json");
    let message = last["error"]["message"].as_str().expect("an error object");
    assert!(message.contains("upstream model failed"), "{message}");
    let claude = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "hi"}]});
    let text = post(&s, "/v1/messages", &claude)
        .await
        .text()
        .await
        .expect("body");
    assert!(
        text.contains("event: error") && !text.contains("message_stop"),
        "{text}"
    );
    // The Responses API (a fresh pool: the failures above cool the token down): a 502 when not streamed;
    // streamed, response.failed with the message and an error event, never response.completed.
    let s = Setup::start(&["a"], json!({})).await;
    s.fake.set_behaviour("a", Behaviour::RawStream(cut.clone()));
    let responses = json!({"model": "gpt-4o", "input": "hi", "store": false});
    let (status, message, _) = refused(&s, "/v1/responses", &responses).await;
    assert_eq!(status, 502);
    assert!(message.contains("upstream model failed"), "{message}");
    let mut streamed = responses.clone();
    streamed["stream"] = json!(true);
    let text = post(&s, "/v1/responses", &streamed)
        .await
        .text()
        .await
        .expect("body");
    let events: Vec<Value> = sse_data(&text)
        .iter()
        .map(|d| serde_json::from_str(d).expect("json"))
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(kinds.contains(&"response.output_text.delta"), "{text}");
    assert!(!kinds.contains(&"response.completed"), "{text}");
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["response.failed", "error"],
        "{text}"
    );
    let failed = &events[events.len() - 2]["response"];
    assert_eq!(failed["status"], "failed");
    let message = failed["error"]["message"].as_str().expect("an error");
    assert!(message.contains("upstream model failed"), "{message}");
}

/// The Responses API's fields go through the same profile table as the other faces': sent where the profile takes
/// them, left out where leaving them out changes nothing, refused in this API's own field names where the answer's
/// shape is at stake; and the fake honours what was sent.
#[tokio::test]
async fn the_responses_face_maps_its_parameters_through_the_profile_table() {
    let s = Setup::start(&["a"], json!({})).await;
    let weather = json!({"type": "function", "name": "get_weather", "parameters": {"type": "object",
        "properties": {"input": {"type": "string"}}}});
    let time = json!({"type": "function", "name": "get_time", "parameters": {"type": "object"}});
    // gpt-4o takes them all; a named tool_choice makes the fake call that tool, without any directive.
    let body = json!({"model": "gpt-4o", "input": "Paris", "store": false, "temperature": 0.7, "top_p": 0.9,
        "max_output_tokens": 300, "tools": [time, weather], "parallel_tool_calls": false,
        "tool_choice": {"type": "function", "name": "get_weather"}});
    let response = ok_json(&s, "/v1/responses", &body).await;
    assert_eq!(response["output"][0]["type"], "function_call", "{response}");
    assert_eq!(response["output"][0]["name"], "get_weather");
    assert_eq!(
        keys(&last_upstream(&s)),
        [
            "tools",
            "tool-choice-named",
            "parallel-tool-calls",
            "temperature",
            "top-p",
            "length"
        ]
    );
    // tool_choice "none": the tools stay defined, the answer is text even with the fake's directive.
    let body = json!({"model": "gpt-4o", "input": "[[tool]] Paris", "store": false, "tools": [weather],
        "tool_choice": "none"});
    let response = ok_json(&s, "/v1/responses", &body).await;
    assert_eq!(response["output"][0]["type"], "message", "{response}");
    assert_eq!(keys(&last_upstream(&s)), ["tools", "tool-choice-none"]);
    // gpt-5 takes no temperature (left out), but reasoning effort and verbosity.
    let body = json!({"model": "gpt-5", "input": "hi", "store": false, "temperature": 0.2,
        "reasoning": {"effort": "low", "summary": "auto"}, "text": {"verbosity": "low"}});
    ok_json(&s, "/v1/responses", &body).await;
    assert_eq!(
        sent_parameters(&last_upstream(&s)),
        [
            ("reasoning-effort".into(), json!("low")),
            ("verbosity".into(), json!("low"))
        ]
    );
    // A length limit the answer reaches: an incomplete response, as OpenAI reports it.
    let body = json!({"model": "gpt-4o", "input": "a rather long question", "store": false,
        "max_output_tokens": 2});
    let response = ok_json(&s, "/v1/responses", &body).await;
    assert_eq!(response["status"], "incomplete", "{response}");
    assert_eq!(
        response["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    // A JSON schema where the profile takes response-format: the answer is the schema's JSON.
    let schema = json!({"type": "json_schema", "name": "city", "schema": {"type": "object",
        "properties": {"name": {"type": "string"}}, "required": ["name"]}});
    let body =
        json!({"model": "gpt-4o", "input": "Paris", "store": false, "text": {"format": schema}});
    let response = ok_json(&s, "/v1/responses", &body).await;
    let answer = response["output"][0]["content"][0]["text"]
        .as_str()
        .expect("text");
    assert_eq!(
        serde_json::from_str::<Value>(answer).expect("JSON"),
        json!({"name": "Paris"})
    );
    // Refused before any upstream call, each naming this API's field.
    let calls = s.fake.requests().len();
    let cases = [
        (
            json!({"model": "o3", "input": "Paris", "text": {"format": schema}}),
            "text.format",
            "text.format: JSON output cannot be guaranteed: profile openai-o3 does not take response-format",
        ),
        (
            json!({"model": "gpt-5.1-codex", "input": "Paris", "tools": [weather], "tool_choice": "required"}),
            "tool_choice",
            "profile openai-gpt-5-1-codex takes no tools",
        ),
        (
            json!({"model": "gpt-4o", "input": "Paris", "n": 2}),
            "n",
            "has no `n`",
        ),
    ];
    for (body, param, needle) in cases {
        let (status, message, json) = refused(&s, "/v1/responses", &body).await;
        assert_eq!(
            (status, json["error"]["param"].as_str()),
            (400, Some(param)),
            "{json}"
        );
        assert!(message.contains(needle), "{message}");
    }
    assert_eq!(s.fake.requests().len(), calls);
}

#[tokio::test]
async fn claude_code_requests_keep_their_system_messages_in_place_without_the_billing_header() {
    let s = Setup::start(&["a"], json!({})).await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 64,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197.a1b; cc_entrypoint=sdk-cli;"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Available agent types for the Agent tool: general-purpose."},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "go"}]});
    ok_json(&s, "/v1/messages", &body).await;
    assert_eq!(
        last_upstream(&s)["chat"]["messages"],
        json!([
            {"type": "system_message", "content": "You are Claude Code."},
            {"type": "user_message", "content": "hi"},
            {"type": "system_message", "content": "Available agent types for the Agent tool: general-purpose."},
            {"type": "assistant_message", "content": "Hello"},
            {"type": "user_message", "content": "go"},
        ])
    );
    let counted = ok_json(&s, "/v1/messages/count_tokens", &body).await;
    assert!(counted["input_tokens"].as_u64().expect("tokens") > 0);
}

#[tokio::test]
async fn anthropic_details_are_refused_in_anthropic_terms() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut body =
        json!({"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}]});
    let (status, message, json) = refused(&s, "/v1/messages", &body).await;
    assert_eq!((status, json["type"].as_str()), (400, Some("error")));
    assert!(message.starts_with("max_tokens: is required"), "{message}");
    body["max_tokens"] = json!(16);
    body["thread"] = json!({"type": "create"});
    let (status, message, _) = refused(&s, "/v1/messages", &body).await;
    assert_eq!(status, 400);
    assert!(message.contains("thread=False"), "{message}");
    assert!(
        s.fake.requests().is_empty(),
        "refused before any upstream call"
    );
}

#[tokio::test]
async fn legacy_functions_and_logprobs_are_refused_not_ignored() {
    let s = Setup::start(&["a"], json!({})).await;
    let mut body = chat("gpt-4o", "hi");
    body["functions"] = json!([{"name": "f", "parameters": {"type": "object"}}]);
    let (status, message, json) = refused(&s, "/v1/chat/completions", &body).await;
    assert_eq!(
        (status, json["error"]["param"].as_str()),
        (400, Some("functions"))
    );
    assert!(
        message.contains("send the functions as `tools`"),
        "{message}"
    );
    let mut body = chat("gpt-4o", "hi");
    body["logprobs"] = json!(true);
    let (status, _, json) = refused(&s, "/v1/chat/completions", &body).await;
    assert_eq!(
        (status, json["error"]["param"].as_str()),
        (400, Some("logprobs"))
    );
    assert!(s.fake.requests().is_empty());
}

/// Every request Claude Code, Codex and aider were seen sending (tests/fixtures/agents/) is served as sent, their
/// default models included (Claude Code's `claude-opus-4-8` and Codex's `gpt-6.2-sol` by the model fallback), with
/// only what the table cannot honour refused: Claude Code's interactive session-title request asks for JSON output
/// (`output_config.format`), which no Claude profile takes in the built-in table.
#[tokio::test]
async fn what_the_coding_agents_send_is_served_or_refused_by_name() {
    let s = Setup::start(&["a"], json!({})).await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/agents");
    let mut served = 0;
    let mut refused_titles = 0;
    for agent in ["claude-code", "codex", "aider"] {
        for entry in std::fs::read_dir(format!("{dir}/{agent}")).expect("captures") {
            let path = entry.expect("entry").path();
            let requests: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
            for request in requests.as_array().expect("a list") {
                let (Some(route), Value::Object(_)) = (request["path"].as_str(), &request["body"])
                else {
                    continue;
                };
                let route = route.split('?').next().unwrap_or_default();
                let body = request["body"].clone();
                let response = post(&s, route, &body).await;
                let status = response.status().as_u16();
                let text = response.text().await.expect("body");
                let title = !body["output_config"]["format"].is_null();
                if title {
                    assert_eq!(status, 400, "{}: {text}", path.display());
                    assert!(text.contains("output_config.format: "), "{text}");
                    refused_titles += 1;
                } else {
                    assert_eq!(status, 200, "{}: {text}", path.display());
                    served += 1;
                }
            }
        }
    }
    assert_eq!((served, refused_titles), (14, 2));
}
