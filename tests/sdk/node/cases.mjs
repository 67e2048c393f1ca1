// The openai Node SDK against jbproxy's OpenAI face: a non-streaming and a streaming completion, the stream helper,
// the model list and a 404. Every exchange is written to $JBPROXY_SDK_EXCHANGES (JSON lines) for spec_check.py.
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
