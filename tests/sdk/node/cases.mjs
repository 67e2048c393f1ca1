// The openai Node SDK against jbproxy's OpenAI faces: a non-streaming and a streaming completion, the stream helper,
// the model list and a 404; a Responses API answer, and a streamed function-call round trip. Every exchange is written to $JBPROXY_SDK_EXCHANGES (JSON lines) for spec_check.py.
// tests/it/sdk.rs runs this with `node --test` next to the pinned node_modules.

import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, test } from "node:test";

import OpenAI from "openai";

const MODEL = "gpt-4o";
const exchanges = [];
const reading = [];

// The usual fetch, with a copy of each response body kept for the spec check; the SDK still reads it as a stream.
async function recordingFetch(url, init) {
  const response = await fetch(url, init);
  const [forSdk, forRecord] = response.body ? response.body.tee() : [null, null];
  const record = {
    method: init?.method ?? "GET",
    path: new URL(url).pathname,
    status: response.status,
    content_type: response.headers.get("content-type") ?? "",
    body: "",
    complete: true,
  };
  exchanges.push(record);
  if (forRecord) {
    reading.push(new Response(forRecord).text().then((text) => (record.body = text)));
  }
  return new Response(forSdk, { status: response.status, statusText: response.statusText, headers: response.headers });
}

const client = new OpenAI({ baseURL: process.env.OPENAI_BASE_URL, maxRetries: 0, fetch: recordingFetch });

after(async () => {
  await Promise.all(reading);
  writeFileSync(process.env.JBPROXY_SDK_EXCHANGES, exchanges.map((e) => JSON.stringify(e)).join("\n") + "\n");
});

test("create answers one choice with usage", async () => {
  const completion = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "node hello" }],
  });
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.choices.length, 1);
  assert.equal(completion.choices[0].message.content, "Echo: node hello");
  assert.equal(completion.choices[0].finish_reason, "stop");
  assert.ok(completion.usage.total_tokens > 0);
});

test("streaming create with include_usage", async () => {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: "user", content: "node stream" }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "";
  let usage = null;
  const finishes = [];
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      if (choice.finish_reason) finishes.push(choice.finish_reason);
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, "Echo: node stream");
  assert.deepEqual(finishes, ["stop"]);
  assert.ok(usage && usage.total_tokens > 0);
});

test("stream helper's final completion", async () => {
  const stream = client.chat.completions.stream({
    model: MODEL,
    messages: [{ role: "user", content: "node helper" }],
  });
  const deltas = [];
  stream.on("content", (delta) => deltas.push(delta));
  const final = await stream.finalChatCompletion();
  assert.equal(deltas.join(""), "Echo: node helper");
  assert.equal(final.choices[0].message.content, "Echo: node helper");
});

test("models.list includes the default model", async () => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.ok(ids.includes(MODEL), ids.join(", "));
});

test("unknown model is a NotFoundError", async () => {
  await assert.rejects(
    client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }),
    (err) => err instanceof OpenAI.NotFoundError && err.status === 404,
  );
});

const WEATHER = {
  type: "function",
  name: "get_weather",
  description: "The weather in a city",
  parameters: { type: "object", properties: { input: { type: "string" } }, required: ["input"] },
  strict: false,
};

test("responses.create answers a Response with output_text", async () => {
  const response = await client.responses.create({ model: MODEL, input: "node responses", store: false });
  assert.equal(response.object, "response");
  assert.equal(response.status, "completed");
  assert.equal(response.output_text, "Echo: node responses");
  assert.ok(response.usage.total_tokens > 0);
});

test("responses.stream: a function call, then its output", async () => {
  const first = client.responses.stream({ model: MODEL, input: "[[tool]] Rome", tools: [WEATHER], store: false });
  const types = [];
  first.on("event", (event) => types.push(event.type));
  const answer = await first.finalResponse();
  assert.ok(types.includes("response.function_call_arguments.delta"), types.join(", "));
  const call = answer.output.find((item) => item.type === "function_call");
  assert.equal(call.name, "get_weather");
  assert.deepEqual(JSON.parse(call.arguments), { input: "Rome" });
  const second = client.responses.stream({
    model: MODEL,
    tools: [WEATHER],
    store: false,
    input: [
      { role: "user", content: "[[tool]] Rome" },
      call,
      { type: "function_call_output", call_id: call.call_id, output: "windy" },
    ],
  });
  const final = await second.finalResponse();
  // The stream helper's final response has no output_text (the SDK adds it only when it parses); read the items.
  const text = final.output
    .filter((item) => item.type === "message")
    .flatMap((item) => item.content.map((part) => part.text))
    .join("");
  assert.equal(text, "Tool said: windy");
});
