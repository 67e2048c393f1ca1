//! Streaming answers: upstream events → the Responses API's typed SSE events (`event: <type>` and `data: <json>`,
//! each with a `sequence_number`). The sequence is `response.created`, `response.in_progress`, then per output
//! item `response.output_item.added`, its deltas (`response.content_part.added` and `response.output_text.delta`
//! for a message, `response.function_call_arguments.delta` for a call), its `….done` events and
//! `response.output_item.done`, and at the end `response.completed` (or `response.incomplete` at the token limit)
//! with the whole response and usage. A cut answer ends with `response.failed` and an `error` event instead, never
//! `response.completed`.
//!
//! A custom tool's input is the `input` string of its upstream arguments, whole only once the call ends: it is
//! sent then (`response.custom_tool_call_input.delta` and `.done`), not fragment by fragment.
//!
//! The upstream's parallel tool calls may interleave their fragments (`parallelToolIndex`), while an item's events
//! are best kept together (clients read them in order, and a closed item cannot take more). So, as on the Anthropic
//! face, the first tool call streams live and its item stays open to the end; whatever begins after it (another
//! call, more text) is held and sent at the end, each item whole, in the order it began.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};

use super::Envelope;
use super::output::{Item, Open, Output, Status, text_part};
use crate::translate::calls::{CallSlots, Slot};
use crate::translate::{SseWriter, StreamFailure};
use crate::upstream::event::UpstreamEvent;

/// Turns one answer's events into Responses API events. One per response; not reusable.
pub struct EventWriter {
    output: Output,
    started: bool,
    finished: bool,
    /// The next event's `sequence_number`.
    sequence: u64,
    calls: CallSlots,
    /// The call streaming live in the open item: the answer's first.
    live: Option<usize>,
    /// Items that began after the live call did, sent whole at the end.
    held: Vec<Held>,
}

/// An item held back until the end of the answer.
enum Held {
    Text(String),
    Call {
        call: usize,
        id: String,
        name: String,
        arguments: String,
    },
}

/// `response.output_text.delta`: the hot path, serialized without building a JSON tree.
#[derive(Serialize)]
struct TextDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    item_id: &'a str,
    output_index: usize,
    content_index: u32,
    delta: &'a str,
    logprobs: [(); 0],
    sequence_number: u64,
}

/// `response.function_call_arguments.delta`.
#[derive(Serialize)]
struct ArgumentsDelta<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    item_id: &'a str,
    output_index: usize,
    delta: &'a str,
    sequence_number: u64,
}

impl EventWriter {
    pub fn new(env: Arc<Envelope>) -> Self {
        EventWriter {
            output: Output::new(env),
            started: false,
            finished: false,
            sequence: 0,
            calls: CallSlots::default(),
            live: None,
            held: Vec::new(),
        }
    }

    /// Appends the events for one upstream event. The first call also writes `response.created` and
    /// `response.in_progress`. End, Skip, Quota, Unknown and Choice (this API has no `n`, so there is one answer)
    /// write nothing else; Finish is remembered for the end.
    pub fn push(&mut self, event: &UpstreamEvent, out: &mut String) {
        if self.finished {
            return;
        }
        self.start(out);
        match event {
            UpstreamEvent::Content(text) if !text.is_empty() => {
                if self.live.is_some() {
                    match self.held.last_mut() {
                        Some(Held::Text(held)) => held.push_str(text),
                        _ => self.held.push(Held::Text(text.clone())),
                    }
                    return;
                }
                self.text(text, out);
            }
            UpstreamEvent::ToolCallStart { id, name, index } => {
                let Slot::New(call) = self.calls.start(*index, id) else {
                    return;
                };
                if self.live.is_some() {
                    self.held.push(Held::Call {
                        call,
                        id: id.clone(),
                        name: name.clone(),
                        arguments: String::new(),
                    });
                    return;
                }
                self.live = Some(call);
                self.close(Status::Completed, out);
                let index = self.output.start_call(id, name, call);
                self.item_event("response.output_item.added", index, out);
            }
            UpstreamEvent::ToolCallArgs { args, index } if !args.is_empty() => {
                // Arguments of no started call cannot be attributed to a call: dropped, as on the other faces.
                let Some(call) = self.calls.args(*index) else {
                    return;
                };
                if self.live == Some(call) {
                    self.arguments(args, out);
                } else if let Some(held) = self.held.iter_mut().find_map(|h| match h {
                    Held::Call {
                        call: c, arguments, ..
                    } if *c == call => Some(arguments),
                    _ => None,
                }) {
                    held.push_str(args);
                }
            }
            // JetBrains' client keeps the first reason, as the other faces do.
            UpstreamEvent::Finish(reason) => {
                self.output.reason.get_or_insert(*reason);
            }
            _ => {}
        }
    }

    /// Text for the open message, which is started first if need be.
    fn text(&mut self, text: &str, out: &mut String) {
        if self.output.open_kind() != Some(Open::Message) {
            self.close(Status::Completed, out);
            let index = self.output.start_message();
            self.item_event("response.output_item.added", index, out);
            let item_id = self.item_id(index);
            self.event(
                out,
                json!({"type": "response.content_part.added", "item_id": item_id, "output_index": index,
                    "content_index": 0, "part": text_part("")}),
            );
        }
        let index = self.output.items.len() - 1;
        self.output.append(index, text);
        let delta = TextDelta {
            kind: "response.output_text.delta",
            item_id: item_id_of(&self.output.items[index]),
            output_index: index,
            content_index: 0,
            delta: text,
            logprobs: [],
            sequence_number: self.sequence,
        };
        write(out, delta.kind, &delta);
        self.sequence += 1;
    }

    /// Arguments for the open call (the last item).
    fn arguments(&mut self, args: &str, out: &mut String) {
        let index = self.output.items.len() - 1;
        self.output.append(index, args);
        let Item::Call(call) = &self.output.items[index] else {
            return;
        };
        // A custom tool's input is sent whole when the call ends (see the module doc).
        if !call.custom {
            let delta = ArgumentsDelta {
                kind: "response.function_call_arguments.delta",
                item_id: &call.id,
                output_index: index,
                delta: args,
                sequence_number: self.sequence,
            };
            write(out, delta.kind, &delta);
            self.sequence += 1;
        }
    }

    /// The normal end: closes the open item and sends the held ones whole, then `response.completed`
    /// (`response.incomplete` when the upstream stopped at the token limit; the last item is the one cut). Calling
    /// it again appends nothing.
    pub fn finish(&mut self, out: &mut String) {
        if self.finished {
            return;
        }
        self.start(out);
        self.finished = true;
        let status = self.output.final_status();
        let held = std::mem::take(&mut self.held);
        let last = held.len();
        self.close(if last == 0 { status } else { Status::Completed }, out);
        for (i, item) in held.into_iter().enumerate() {
            match item {
                Held::Text(text) => self.text(&text, out),
                Held::Call {
                    call,
                    id,
                    name,
                    arguments,
                } => {
                    self.close(Status::Completed, out);
                    let index = self.output.start_call(&id, &name, call);
                    self.item_event("response.output_item.added", index, out);
                    if !arguments.is_empty() {
                        self.arguments(&arguments, out);
                    }
                }
            }
            self.close(
                if i + 1 == last {
                    status
                } else {
                    Status::Completed
                },
                out,
            );
        }
        let kind = match status {
            Status::Incomplete => "response.incomplete",
            _ => "response.completed",
        };
        let response = self.output.response(status, None);
        self.event(out, json!({"type": kind, "response": response}));
    }

    /// A failure after the stream started: `response.failed` with the response so far (its open item marked
    /// incomplete) and `error` set, then an `error` event; nothing after them. The `error` event carries the
    /// error both flat (as OpenAI's spec has it) and as an `error` object (as OpenAI sends it, and as the
    /// official SDKs read it to raise).
    pub fn fail(&mut self, failure: &StreamFailure<'_>, out: &mut String) {
        if self.finished {
            return;
        }
        self.start(out);
        self.finished = true;
        self.output.close(Status::Incomplete);
        let response = self.output.response(Status::Failed, Some(failure.message));
        self.event(
            out,
            json!({"type": "response.failed", "response": response}),
        );
        let code = failure.code.unwrap_or(failure.kind);
        self.event(
            out,
            json!({"type": "error", "code": code, "message": failure.message, "param": null,
                "error": {"type": failure.kind, "code": code, "message": failure.message, "param": null}}),
        );
    }

    fn start(&mut self, out: &mut String) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.output.response(Status::InProgress, None);
        self.event(
            out,
            json!({"type": "response.created", "response": response.clone()}),
        );
        self.event(
            out,
            json!({"type": "response.in_progress", "response": response}),
        );
    }

    /// Closes the open item with `status`: its `….done` events, then `response.output_item.done`.
    fn close(&mut self, status: Status, out: &mut String) {
        let Some(index) = self.output.close(status) else {
            return;
        };
        let item_id = self.item_id(index);
        match &self.output.items[index] {
            Item::Message { text, .. } => {
                let done = json!({"type": "response.output_text.done", "item_id": item_id, "output_index": index,
                    "content_index": 0, "text": text, "logprobs": []});
                let part = json!({"type": "response.content_part.done", "item_id": item_id,
                    "output_index": index, "content_index": 0, "part": text_part(text)});
                self.event(out, done);
                self.event(out, part);
            }
            Item::Call(call) if call.custom => {
                let input = call.input();
                if !input.is_empty() {
                    let delta = json!({"type": "response.custom_tool_call_input.delta", "item_id": item_id,
                        "output_index": index, "delta": input});
                    self.event(out, delta);
                }
                let done = json!({"type": "response.custom_tool_call_input.done", "item_id": item_id,
                    "output_index": index, "input": input});
                self.event(out, done);
            }
            Item::Call(call) => {
                let done = json!({"type": "response.function_call_arguments.done", "item_id": item_id,
                    "output_index": index, "name": call.name, "arguments": call.arguments});
                self.event(out, done);
            }
        }
        self.item_event("response.output_item.done", index, out);
    }

    /// `response.output_item.added` / `.done` for the item at `index`, as it is now.
    fn item_event(&mut self, kind: &'static str, index: usize, out: &mut String) {
        let item = self.output.item_json(index);
        self.event(
            out,
            json!({"type": kind, "output_index": index, "item": item}),
        );
    }

    fn item_id(&self, index: usize) -> String {
        item_id_of(&self.output.items[index]).to_string()
    }

    /// Writes `event` (an object with its `type`) with the next sequence number.
    fn event(&mut self, out: &mut String, mut event: Value) {
        event["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        let kind = event["type"].as_str().unwrap_or("error").to_string();
        write(out, &kind, &event);
    }
}

fn item_id_of(item: &Item) -> &str {
    match item {
        Item::Message { id, .. } => id,
        Item::Call(call) => &call.id,
    }
}

/// Appends one SSE record. Serializing these plain values cannot fail; if it ever did, the record is left out
/// rather than written half.
fn write<T: Serialize>(out: &mut String, kind: &str, data: &T) {
    if let Ok(json) = serde_json::to_string(data) {
        out.reserve(json.len() + kind.len() + 16);
        out.push_str("event: ");
        out.push_str(kind);
        out.push_str("\ndata: ");
        out.push_str(&json);
        out.push_str("\n\n");
    }
}

impl SseWriter for EventWriter {
    fn push(&mut self, event: &UpstreamEvent, out: &mut String) {
        EventWriter::push(self, event, out);
    }

    fn finish(&mut self, out: &mut String) {
        EventWriter::finish(self, out);
    }

    fn fail(&mut self, failure: &StreamFailure<'_>, out: &mut String) {
        EventWriter::fail(self, failure, out);
    }
}

#[cfg(test)]
mod tests;
