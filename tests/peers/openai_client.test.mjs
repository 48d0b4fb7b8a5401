// The official `openai` npm client against `keel serve` (started by tests/apps/serve_test.cpp,
// which passes the URL and model names in the environment). Run with `node --test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = `${process.env.KEEL_URL}/v1`;
const model = process.env.KEEL_MODEL;
const embedModel = process.env.KEEL_EMBED_MODEL;
const client = new OpenAI({ baseURL, apiKey: process.env.KEEL_API_KEY || 'unused', maxRetries: 0 });

test('models.list names the served models', async () => {
  const models = await client.models.list();
  const ids = models.data.map((m) => m.id);
  assert.ok(ids.includes(model), `models: ${ids}`);
  if (embedModel) assert.ok(ids.includes(embedModel));
});

test('chat completion (non-streaming)', async () => {
  const r = await client.chat.completions.create({
    model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is a KV cache?' }],
    max_tokens: 12, temperature: 0,
  });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(typeof r.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0);
  assert.ok(r.usage.completion_tokens > 0 && r.usage.completion_tokens <= 12);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('chat completion streams chunks, a finish reason and usage', async () => {
  const stream = await client.chat.completions.create({
    model, messages: [{ role: 'user', content: 'Tell me about citations.' }], max_tokens: 10, temperature: 0,
    stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  let sawRole = false;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    if (chunk.choices.length) {
      const c = chunk.choices[0];
      if (c.delta.role) sawRole = true;
      text += c.delta.content || '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.ok(chunks >= 2);
  assert.ok(sawRole, 'the first chunk carries the assistant role');
  assert.ok(finish === 'stop' || finish === 'length');
  assert.ok(usage && usage.completion_tokens > 0, 'usage arrives when include_usage is set');
  assert.equal(typeof text, 'string');
});

test('greedy chat is the same streamed and not', async () => {
  const messages = [{ role: 'user', content: 'What does keel plan print?' }];
  const whole = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0 });
  const stream = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
  assert.equal(text, whole.choices[0].message.content);
});

test('completions, streamed and not', async () => {
  const r = await client.completions.create({ model, prompt: 'The GGUF format', max_tokens: 8, temperature: 0 });
  assert.equal(r.object, 'text_completion');
  assert.equal(typeof r.choices[0].text, 'string');
  const stream = await client.completions.create({ model, prompt: 'The GGUF format', max_tokens: 8, temperature: 0, stream: true });
  let text = '';
  for await (const chunk of stream) text += chunk.choices[0]?.text || '';
  assert.equal(text, r.choices[0].text);
});

test('embeddings are unit vectors, one per input', { skip: !embedModel && 'no embedding model served' }, async () => {
  const r = await client.embeddings.create({ model: embedModel, input: ['hybrid retrieval', 'paged KV cache'] });
  assert.equal(r.data.length, 2);
  for (const d of r.data) {
    const norm = Math.sqrt(d.embedding.reduce((s, x) => s + x * x, 0));
    assert.ok(Math.abs(norm - 1) < 1e-3, `norm ${norm}`);
  }
  assert.ok(r.usage.prompt_tokens > 0);
  // The SDK asks for base64 by default when no encoding is named; both work.
  const b = await client.embeddings.create({ model: embedModel, input: 'hybrid retrieval', encoding_format: 'float' });
  assert.equal(b.data[0].embedding.length, r.data[0].embedding.length);
});

test('bad requests are 400 with an OpenAI error body', async () => {
  await assert.rejects(
    client.chat.completions.create({ model, messages: [], max_tokens: 4 }),
    (e) => e.status === 400 && typeof e.message === 'string' && e.error?.type === 'invalid_request_error');
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e.status === 404 && e.code === 'model_not_found');
  await assert.rejects(
    client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }], max_tokens: 100000000 }),
    (e) => e.status === 400);
});
