use super::*;

fn parse(data: &str) -> UpstreamEvent {
    parse_data(data).unwrap()
}

#[test]
fn content_is_a_text_delta() {
    assert_eq!(
        parse(r#"{"type":"Content","content":"Hel\"lo\n"}"#),
        UpstreamEvent::Content("Hel\"lo\n".into())
    );
}

#[test]
fn empty_or_missing_content_is_skipped() {
    assert_eq!(
        parse(r#"{"type":"Content","content":""}"#),
        UpstreamEvent::Skip
    );
    assert_eq!(parse(r#"{"type":"Content"}"#), UpstreamEvent::Skip);
    assert_eq!(
        parse(r#"{"type":"Content","content":null}"#),
        UpstreamEvent::Skip
    );
}

#[test]
fn end_markers_and_skips() {
    assert_eq!(parse("end"), UpstreamEvent::End);
    assert_eq!(parse("[DONE]"), UpstreamEvent::End);
    assert_eq!(parse(" end\r"), UpstreamEvent::End);
    assert_eq!(parse("null"), UpstreamEvent::Skip);
    assert_eq!(parse(""), UpstreamEvent::Skip);
    assert_eq!(parse("   "), UpstreamEvent::Skip);
}

#[test]
fn v8_tool_call_start_and_args() {
    assert_eq!(
        parse(r#"{"type":"ToolCall","id":"toolu_01","name":"get_weather"}"#),
        UpstreamEvent::ToolCallStart {
            id: "toolu_01".into(),
            name: "get_weather".into(),
            index: None,
        }
    );
    assert_eq!(
        parse(r#"{"type":"ToolCall","content":"{\"city\":"}"#),
        UpstreamEvent::ToolCallArgs {
            args: "{\"city\":".into(),
            index: None
        }
    );
    assert_eq!(
        parse(r#"{"type":"ToolCall","id":null,"content":""}"#),
        UpstreamEvent::Skip
    );
}

#[test]
fn v7_function_call_start_and_args() {
    assert_eq!(
        parse(r#"{"type":"FunctionCall","name":"get_weather","content":""}"#),
        UpstreamEvent::ToolCallStart {
            id: String::new(),
            name: "get_weather".into(),
            index: None,
        }
    );
    assert_eq!(
        parse(r#"{"type":"FunctionCall","name":null,"content":"{}"}"#),
        UpstreamEvent::ToolCallArgs {
            args: "{}".into(),
            index: None
        }
    );
    assert_eq!(
        parse(r#"{"type":"FunctionCall","content":"{}"}"#),
        UpstreamEvent::ToolCallArgs {
            args: "{}".into(),
            index: None
        }
    );
}

#[test]
fn start_with_arguments_yields_both_events_from_parse_data_into() {
    let mut out = Vec::new();
    parse_data_into(
        r#"{"type":"FunctionCall","name":"f","content":"{\"a\":1}"}"#,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        vec![
            UpstreamEvent::ToolCallStart {
                id: String::new(),
                name: "f".into(),
                index: None,
            },
            UpstreamEvent::ToolCallArgs {
                args: "{\"a\":1}".into(),
                index: None
            },
        ]
    );
    out.clear();
    parse_data_into(
        r#"{"type":"ToolCall","id":"t1","name":"f","content":"{}"}"#,
        &mut out,
    )
    .unwrap();
    assert_eq!(out.len(), 2);
    out.clear();
    parse_data_into(r#"{"type":"Content","content":"x"}"#, &mut out).unwrap();
    assert_eq!(out, vec![UpstreamEvent::Content("x".into())]);
}

#[test]
fn finish_reasons() {
    assert_eq!(
        parse(r#"{"type":"FinishMetadata","reason":"stop"}"#),
        UpstreamEvent::Finish(FinishReason::Stop)
    );
    assert_eq!(
        parse(r#"{"type":"FinishMetadata","reason":"length"}"#),
        UpstreamEvent::Finish(FinishReason::Length)
    );
    assert_eq!(
        parse(r#"{"type":"FinishMetadata","reason":"tool_call"}"#),
        UpstreamEvent::Finish(FinishReason::ToolCalls)
    );
    assert_eq!(
        parse(r#"{"type":"FinishMetadata","reason":"weird"}"#),
        UpstreamEvent::Finish(FinishReason::Stop)
    );
    assert_eq!(
        parse(r#"{"type":"FinishMetadata"}"#),
        UpstreamEvent::Finish(FinishReason::Stop)
    );
}

#[test]
fn quota_amounts_are_decimal_strings() {
    let event = parse(
        r#"{"type":"QuotaMetadata","updated":{"license":"L","current":{"amount":"1234.5"},
            "maximum":{"amount":"300000"},"until":1767225600000,"quotaID":{"quotaId":"q"}},"spent":{"amount":"12.3"}}"#,
    );
    assert_eq!(
        event,
        UpstreamEvent::Quota(QuotaUpdate {
            used: Some(1234.5),
            maximum: Some(300000.0),
            until_ms: Some(1767225600000),
            spent: Some(12.3),
        })
    );
}

#[test]
fn quota_fields_that_are_missing_or_bad_are_none() {
    assert_eq!(
        parse(r#"{"type":"QuotaMetadata"}"#),
        UpstreamEvent::Quota(QuotaUpdate::default())
    );
    assert_eq!(
        parse(
            r#"{"type":"QuotaMetadata","updated":{"current":{"amount":"abc"},"until":"17"},"spent":{"amount":5}}"#
        ),
        UpstreamEvent::Quota(QuotaUpdate {
            used: None,
            maximum: None,
            until_ms: Some(17),
            spent: Some(5.0)
        })
    );
}

#[test]
fn unknown_types_are_named_not_fatal() {
    assert_eq!(
        parse(r#"{"type":"Reasoning","content":"hmm"}"#),
        UpstreamEvent::Unknown("Reasoning".into())
    );
}

#[test]
fn payload_without_type_is_an_error() {
    let err = parse_data(r#"{"content":"x"}"#).unwrap_err();
    assert!(matches!(err, EventError::NoType { .. }), "{err:?}");
    assert!(err.to_string().contains("no \"type\""));
}

#[test]
fn non_json_is_an_error() {
    let err = parse_data("not json").unwrap_err();
    assert!(matches!(err, EventError::NotJson { .. }), "{err:?}");
    assert!(parse_data("[1,2]").is_err());
    assert!(parse_data("42").is_err());
}

#[test]
fn a_jwt_in_a_bad_payload_is_not_quoted() {
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJl";
    for payload in [format!("oops {jwt}"), format!(r#"{{"content":"{jwt}"}}"#)] {
        let err = parse_data(&payload).unwrap_err().to_string();
        assert!(!err.contains(jwt), "{err}");
        assert!(err.contains("<jwt>"), "{err}");
    }
}

#[test]
fn errors_quote_at_most_100_chars() {
    let secret_tail = "TAIL_THAT_MUST_NOT_APPEAR";
    let long = format!("{}{}", "é".repeat(150), secret_tail);
    let err = parse_data(&long).unwrap_err().to_string();
    assert!(!err.contains(secret_tail), "{err}");
    assert!(err.chars().count() < 220, "{err}");

    // A wrong-typed JSON string: serde's own message would quote it whole.
    let quoted = format!("\"{}{}\"", "a".repeat(200), secret_tail);
    let err = parse_data(&quoted).unwrap_err().to_string();
    assert!(!err.contains(secret_tail), "{err}");

    let no_type = format!(r#"{{"content":"{}{}"}}"#, "b".repeat(200), secret_tail);
    let err = parse_data(&no_type).unwrap_err().to_string();
    assert!(!err.contains(secret_tail), "{err}");
}

#[test]
fn event_type_data_is_an_event_and_error_is_the_upstream_failing() {
    assert_eq!(
        parse(r#"{"event_type":"data","type":"Content","content":"Hi"}"#),
        UpstreamEvent::Content("Hi".into())
    );
    let err = parse_data(r#"{"event_type":"error","error_message":"Model is overloaded"}"#)
        .expect_err("an error event");
    assert!(matches!(err, EventError::Reported { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "upstream reported an error: Model is overloaded"
    );
    let err = parse_data(r#"{"event_type":"error"}"#).expect_err("an error event");
    assert_eq!(err.to_string(), "upstream reported an error: (no message)");
    // The message is scrubbed and cut like an error body.
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2ln";
    let long = format!(
        r#"{{"event_type":"error","error_message":"bad {jwt} {}"}}"#,
        "x".repeat(2000)
    );
    let message = parse_data(&long).expect_err("error").to_string();
    assert!(
        !message.contains("eyJzdWIiOiJ4In0") && message.chars().count() < 400,
        "{message}"
    );
    // Any other event_type is skipped and counted, never read as data.
    assert_eq!(
        parse(r#"{"event_type":"warning","type":"Content","content":"x"}"#),
        UpstreamEvent::Unknown("event_type warning".into())
    );
}

#[test]
fn parallel_tool_index_rides_on_tool_events_and_choice_index_comes_back() {
    let mut out = Vec::new();
    let choice = parse_data_into(
        r#"{"event_type":"data","type":"ToolCall","parallelToolIndex":1,"choiceIndex":2,"id":"b","name":"g","content":"{"}"#,
        &mut out,
    )
    .unwrap();
    assert_eq!(choice, Some(2));
    assert_eq!(
        out,
        vec![
            UpstreamEvent::ToolCallStart {
                id: "b".into(),
                name: "g".into(),
                index: Some(1),
            },
            UpstreamEvent::ToolCallArgs {
                args: "{".into(),
                index: Some(1),
            },
        ]
    );
    assert_eq!(
        parse(r#"{"type":"ToolCall","parallelToolIndex":0,"content":"}"}"#),
        UpstreamEvent::ToolCallArgs {
            args: "}".into(),
            index: Some(0),
        }
    );
    out.clear();
    assert_eq!(
        parse_data_into(r#"{"type":"Content","content":"x"}"#, &mut out).unwrap(),
        None
    );
}
