//! Successful chat answers: event order and content, tool calls, tool results, options.

use serde_json::json;

use super::*;
use crate::fake_upstream::Behaviour;

#[tokio::test]
async fn v8_chat_streams_content_finish_quota_then_end() {
    let fake = fake().await;
    let response = chat(&fake, V8, "alice", &user_body("hello there")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let sse = response.text().await.unwrap();

    let payloads = payloads(&sse);
    assert_eq!(payloads.last().map(String::as_str), Some("end"));
    let events = events(&sse);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ThinkingMetadata",
            "Content",
            "Content",
            "Content",
            "FinishMetadata",
            "QuotaMetadata"
        ]
    );
    assert_eq!(content_text(&events), "Echo: hello there");
    assert_eq!(events[4]["reason"], "stop");
    let quota = &events[5];
    assert_eq!(quota["updated"]["current"]["amount"], "1.0");
    assert_eq!(quota["updated"]["maximum"]["amount"], "300000.0");
    assert!(quota["updated"]["until"].as_i64().unwrap() > 1_700_000_000_000);
    assert!(quota["updated"]["quotaID"]["quotaId"].is_string());
    assert_eq!(quota["spent"]["amount"], "1.0");
    assert_eq!(fake.chat_requests_for("alice"), 1);
    assert_eq!(fake.chat_requests_for("bob"), 0);
}

#[tokio::test]
async fn v7_and_responses_endpoints_answer_too() {
    let fake = fake().await;
    for path in [V7, RESPONSES] {
        let response = chat(&fake, path, "alice", &user_body("hi")).await;
        assert_eq!(response.status(), 200, "{path}");
        let events = events(&response.text().await.unwrap());
        assert_eq!(content_text(&events), "Echo: hi", "{path}");
    }
    assert_eq!(fake.chat_requests_for("alice"), 2);
}

#[tokio::test]
async fn v8_tools_and_a_directive_in_the_last_user_message_get_a_tool_call() {
    let fake = fake().await;
    let mut body = user_body("Paris [[tool]] \"weather\"");
    body["parameters"] = v8_tools("get_weather", city_schema());
    let sse = chat(&fake, V8, "alice", &body).await.text().await.unwrap();
    let events = events(&sse);
    let start = events
        .iter()
        .position(|e| e["type"] == "ToolCall")
        .expect("a tool call");
    assert_eq!(events[start]["name"], "get_weather");
    assert!(events[start]["id"].as_str().unwrap().starts_with("toolu_"));
    let fragments: Vec<&str> = events[start + 1..]
        .iter()
        .take_while(|e| e["type"] == "ToolCall")
        .map(|e| {
            assert!(e.get("id").is_none(), "argument chunks carry no id");
            e["content"].as_str().unwrap()
        })
        .collect();
    assert!(fragments.len() >= 2);
    let arguments: serde_json::Value = serde_json::from_str(&fragments.concat()).unwrap();
    assert_eq!(arguments, json!({"input": "Paris  \"weather\""}));
    let finish = events
        .iter()
        .find(|e| e["type"] == "FinishMetadata")
        .unwrap();
    assert_eq!(finish["reason"], "tool_call");
    assert_eq!(content_text(&events), "");
}

#[tokio::test]
async fn v7_functions_and_a_directive_get_a_function_call() {
    let fake = fake().await;
    let mut body = user_body("[[tool:get_weather]] Oslo");
    body["parameters"] = v7_functions("get_weather", city_schema());
    let sse = chat(&fake, V7, "alice", &body).await.text().await.unwrap();
    let calls: Vec<serde_json::Value> = events(&sse)
        .into_iter()
        .filter(|e| e["type"] == "FunctionCall")
        .collect();
    assert!(calls.len() >= 2);
    assert_eq!(calls[0]["name"], "get_weather");
    assert!(
        calls[1..]
            .iter()
            .all(|c| c.get("name").is_none_or(|n| n.is_null()))
    );
    let arguments: String = calls
        .iter()
        .map(|c| c["content"].as_str().unwrap())
        .collect();
    assert_eq!(arguments, r#"{"input":"Oslo"}"#);
}

#[tokio::test]
async fn tools_without_a_directive_get_text_and_a_named_directive_its_tool_and_arguments() {
    let fake = fake().await;
    let two_tools = |text: &str| {
        let mut body = user_body(text);
        let tools = json!([
            {"name": "get_time", "parameters": {"schema": city_schema()}},
            {"name": "mcp__weather__get_weather", "parameters": {"schema": city_schema()}},
        ]);
        body["parameters"] = json!({"data": [
            {"type": "json", "fqdn": "llm.parameters.tools"},
            {"type": "json", "value": tools.to_string(), "modified": 1_756_630_000_000_i64},
        ]});
        body
    };
    let answer = |body: serde_json::Value| {
        let fake = &fake;
        async move { events(&chat(fake, V8, "alice", &body).await.text().await.unwrap()) }
    };
    let finish = |events: &[serde_json::Value]| {
        events
            .iter()
            .find(|e| e["type"] == "FinishMetadata")
            .map(|e| e["reason"].clone())
    };

    let plain = answer(two_tools("What time is it in Paris?")).await;
    assert_eq!(content_text(&plain), "Echo: What time is it in Paris?");
    assert_eq!(finish(&plain), Some(json!("stop")));
    assert!(!plain.iter().any(|e| e["type"] == "ToolCall"));

    let named = answer(two_tools(r#"[[tool:get_weather {"city": "Paris"}]]"#)).await;
    let call: Vec<&serde_json::Value> = named.iter().filter(|e| e["type"] == "ToolCall").collect();
    assert_eq!(call[0]["name"], "mcp__weather__get_weather");
    let arguments: String = call[1..]
        .iter()
        .map(|e| e["content"].as_str().unwrap())
        .collect();
    assert_eq!(arguments, r#"{"city":"Paris"}"#);
    assert_eq!(finish(&named), Some(json!("tool_call")));

    let unknown = answer(two_tools("[[tool:get_news]]")).await;
    let text = content_text(&unknown);
    assert!(
        text.starts_with("Fake upstream: the directive asks for tool \"get_news\""),
        "{text}"
    );
    assert_eq!(finish(&unknown), Some(json!("stop")));
}

#[tokio::test]
async fn the_parameters_have_the_last_word_over_the_directive() {
    let fake = fake().await;
    // Two tools, and the extra pairs given.
    let body = |text: &str, pairs: serde_json::Value| {
        let mut body = user_body(text);
        let tools = json!([
            {"name": "get_time", "parameters": {"schema": city_schema()}},
            {"name": "get_weather", "parameters": {"schema": city_schema()}},
        ]);
        let mut data = vec![
            json!({"type": "json", "fqdn": "llm.parameters.tools"}),
            json!({"type": "json", "value": tools.to_string(), "modified": 0}),
        ];
        data.extend(pairs.as_array().cloned().unwrap_or_default());
        body["parameters"] = json!({"data": data});
        body
    };
    let flag = |name: &str, on: bool| json!([{"type": "bool", "fqdn": format!("llm.parameters.{name}")}, {"type": "bool", "value": on}]);
    // (tool name, its arguments) of each call, the fragments joined by `parallelToolIndex`.
    let calls = |body: serde_json::Value| {
        let fake = &fake;
        async move {
            let events = events(&chat(fake, V8, "alice", &body).await.text().await.unwrap());
            let mut calls: Vec<(String, String)> = Vec::new();
            for e in events.iter().filter(|e| e["type"] == "ToolCall") {
                let i = e["parallelToolIndex"].as_u64().unwrap() as usize;
                match e["name"].as_str() {
                    Some(name) => calls.push((name.to_owned(), String::new())),
                    None => calls[i].1.push_str(e["content"].as_str().unwrap()),
                }
            }
            (calls, content_text(&events))
        }
    };
    let input = |text: &str| json!({"input": text}).to_string();

    // Required: a call without any directive, to the first tool.
    let (made, _) = calls(body("Paris", flag("tool-choice-required", true))).await;
    assert_eq!(made, [("get_time".to_owned(), input("Paris"))]);
    // Named: that tool, without any directive.
    let named = json!([{"type": "text", "fqdn": "llm.parameters.tool-choice-named"},
        {"type": "text", "value": "get_weather"}]);
    let (made, _) = calls(body("Paris", named)).await;
    assert_eq!(made, [("get_weather".to_owned(), input("Paris"))]);
    // None: text, whatever the directive says.
    let (made, text) = calls(body("[[tool]] Paris", flag("tool-choice-none", true))).await;
    assert!(made.is_empty(), "{made:?}");
    assert_eq!(text, "Echo: [[tool]] Paris");
    // `[[tools]]`: every tool at once, unless parallel calls are off.
    let (made, _) = calls(body("[[tools]] Paris", json!([]))).await;
    assert_eq!(
        made,
        [
            ("get_time".to_owned(), input("Paris")),
            ("get_weather".to_owned(), input("Paris"))
        ]
    );
    let (made, _) = calls(body("[[tools]] Paris", flag("parallel-tool-calls", false))).await;
    assert_eq!(made, [("get_time".to_owned(), input("Paris"))]);
}

#[tokio::test]
async fn a_tool_result_last_gets_text_about_it() {
    let fake = fake().await;
    // The v8 example of the survey: image, assistant text, a tool call and its result.
    let body = json!({
        "prompt": "ij.chat.request.new-chat-on-start",
        "profile": "anthropic-claude-4-5-sonnet",
        "chat": {"messages": [
            {"type": "system_message", "content": "Use tools."},
            {"type": "media_message", "mediaType": "image/png", "data": "iVBORw0KGgo="},
            {"type": "user_message", "content": "What city is in this photo, and its weather?"},
            {"type": "assistant_message_text", "content": "Looks like Paris."},
            {"type": "assistant_message_tool", "id": "toolu_01", "toolName": "get_weather", "content": "{\"city\":\"Paris\"}"},
            {"type": "tool_message", "id": "toolu_01", "toolName": "get_weather", "result": "18C, cloudy"},
        ]},
        "parameters": v8_tools("get_weather", city_schema()),
    });
    let response = chat(&fake, V8, "alice", &body).await;
    assert_eq!(response.status(), 200);
    let answer = events(&response.text().await.unwrap());
    assert_eq!(content_text(&answer), "Tool said: 18C, cloudy");

    let v7 = json!({
        "prompt": "ij.chat.request.new-chat-on-start",
        "profile": "anthropic-claude-4-sonnet",
        "chat": {"messages": [
            {"type": "user_message", "content": "Weather in Paris?"},
            {"type": "assistant_message", "content": "", "functionCall": {"functionName": "get_weather", "content": "{\"city\":\"Paris\"}"}},
            {"type": "function_message", "content": "18C, cloudy", "functionName": "get_weather"},
        ]},
        "parameters": v7_functions("get_weather", city_schema()),
    });
    let response = chat(&fake, V7, "alice", &v7).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        content_text(&events(&response.text().await.unwrap())),
        "Tool said: 18C, cloudy"
    );
}

#[tokio::test]
async fn options_set_text_event_count_and_unknown_events() {
    let fake = fake_with(FakeOptions {
        content_events: 5,
        demo_text: Some("Hello from the demo.".into()),
        unknown_events: false,
        ..FakeOptions::default()
    })
    .await;
    let events = events(
        &chat(&fake, V8, "alice", &user_body("ignored"))
            .await
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(events.iter().filter(|e| e["type"] == "Content").count(), 5);
    assert_eq!(content_text(&events), "Hello from the demo.");
    assert!(events.iter().all(|e| e["type"] != "ThinkingMetadata"));
}

#[tokio::test]
async fn events_arrive_as_separate_chunks_in_time() {
    let fake = fake_with(FakeOptions {
        event_delay: std::time::Duration::from_millis(40),
        ..FakeOptions::default()
    })
    .await;
    let started = std::time::Instant::now();
    let mut response = chat(&fake, V8, "alice", &user_body("x")).await;
    let mut arrivals = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        arrivals.push((started.elapsed(), chunk));
    }
    // unknown + 3 content + finish + quota + end, each sent on its own 40 ms apart. A reader delayed by a loaded
    // machine may find two in one read, so only "most arrived separately" is asserted.
    let events: usize = arrivals
        .iter()
        .map(|(_, c)| c.windows(6).filter(|w| w == b"data: ").count())
        .sum();
    assert_eq!(events, 7);
    assert!(arrivals.len() >= 5, "{} reads", arrivals.len());
    assert!(
        arrivals
            .iter()
            .all(|(_, c)| c.starts_with(b"data: ") && c.ends_with(b"\n\n"))
    );
    let spread = arrivals[6].0 - arrivals[0].0;
    assert!(
        spread >= std::time::Duration::from_millis(6 * 40),
        "{spread:?}"
    );
}

#[tokio::test]
async fn the_quota_metadata_follows_spending() {
    let fake = fake().await;
    fake.set_quota("alice", 100.0, 1000.0, crate::epoch::now_ms() + 60_000);
    let events = events(
        &chat(&fake, V8, "alice", &user_body("x"))
            .await
            .text()
            .await
            .unwrap(),
    );
    let quota = events
        .iter()
        .find(|e| e["type"] == "QuotaMetadata")
        .unwrap();
    assert_eq!(quota["updated"]["current"]["amount"], "101.0");
    assert_eq!(quota["updated"]["maximum"]["amount"], "1000.0");
    // Behaviours are per token: another one is unaffected.
    fake.set_behaviour("bob", Behaviour::ServerError);
    assert_eq!(
        chat(&fake, V8, "alice", &user_body("x")).await.status(),
        200
    );
}
