//! A native route's request, answered like a chat: the JWT, `grazie-agent` and the token's behaviour as on v8, the
//! body checked by the provider's rules (`native::anthropic`, `native::openai`), quota spent, and the provider's
//! answer, streamed with the behaviour's timing or whole.

use super::*;
use crate::fake_upstream::native::{self, Answer, Asked, Refusal};
use crate::models::native::Family;

pub(super) fn chat(
    shared: &Shared,
    headers: &HeaderMap,
    json: Option<&Value>,
    family: Family,
) -> Outcome {
    let Admitted {
        name,
        behaviour,
        jwt,
        body,
    } = match admit(shared, headers, json) {
        Ok(admitted) => admitted,
        Err(refused) => return *refused,
    };
    let refuse = |Refusal(body): Refusal| {
        Outcome::now(
            Some(name.clone()),
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response(),
        )
    };
    let checked: Result<Asked, Refusal> = match family {
        Family::Anthropic => native::anthropic::validate(body),
        Family::OpenAi => native::openai::validate(body),
    };
    let asked = match checked {
        Ok(asked) => asked,
        Err(refusal) => return refuse(refusal),
    };
    if let Some(reply) = error_reply(&behaviour, jwt) {
        return Outcome::now(Some(name), reply);
    }
    if let Behaviour::RawStream(sse) = &behaviour {
        let guard = ActiveGuard::new(&shared.active);
        let body = timed_body(
            vec![Bytes::from(sse.clone())],
            Timing::default(),
            Some(guard),
            shared.cancel.clone(),
        );
        return Outcome::now(Some(name), event_stream(body));
    }
    if behaviour == Behaviour::Hang {
        return Outcome {
            token_name: Some(name),
            action: Action::Hang {
                _guard: Some(ActiveGuard::new(&shared.active)),
            },
            recorded: None,
        };
    }
    let spent = shared.options.spent_per_chat;
    let left = shared.quota_entry(&name, |quota| {
        if quota.exhausted() {
            return false;
        }
        quota.used = (quota.used + spent).min(quota.maximum);
        true
    });
    if !left {
        return Outcome::now(
            Some(name),
            text_error(quota_exhausted_status(), "quota exhausted"),
        );
    }
    let serial = shared.tool_serial.fetch_add(1, Ordering::Relaxed);
    let pieces = shared.options.content_events;
    let answer = match family {
        Family::Anthropic => native::anthropic::answer(&asked, serial, pieces),
        Family::OpenAi => native::openai::answer(&asked, serial, pieces),
    };
    let frames = match answer {
        Answer::Whole(json) => return Outcome::now(Some(name), axum::Json(json).into_response()),
        Answer::Stream(frames) => frames,
    };
    let guard = ActiveGuard::new(&shared.active);
    let (delay, timing) = timing_of(&behaviour, shared.options.event_delay);
    let body = timed_body(frames, timing, Some(guard), shared.cancel.clone());
    Outcome {
        token_name: Some(name),
        action: Action::Reply {
            delay,
            response: event_stream(body),
        },
        recorded: None,
    }
}

/// A streamed answer's response, with the headers every stream of the fake carries.
fn event_stream(body: axum::body::Body) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
