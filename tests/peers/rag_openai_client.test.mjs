// The official `openai` npm client against `keel rag serve` (started by
// tests/apps/rag_serve_test.cpp, which passes the URL, a token per tenant and each tenant's
// 2026 revenue computed directly in the environment). The token is the client's API key: it
// travels as the bearer token. Run with `node --test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = `${process.env.KEEL_URL}/v1`;
const tenants = ['acme', 'globex', 'initech'];
const client = (tenant) =>
  new OpenAI({ baseURL, apiKey: process.env[`KEEL_TOKEN_${tenant}`], maxRetries: 0 });

test('each tenant gets its own revenue with the evidence under keel', async () => {
  for (const tenant of tenants) {
    const r = await client(tenant).chat.completions.create({
      model: 'keel-enterprise-rag',
      messages: [{ role: 'user', content: 'What was the revenue in 2026?' }],
    });
    assert.equal(r.object, 'chat.completion');
    const content = r.choices[0].message.content;
    assert.ok(content.includes(process.env[`KEEL_REVENUE_${tenant}`]), `${tenant}: ${content}`);
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.keel.evidence.metrics[0].parameters[0], tenant);
    assert.equal(r.keel.catalog.version, '2026.12.1');
  }
});

test('a typed metric request as the message, streamed', async () => {
  const stream = await client('globex').chat.completions.create({
    model: 'keel-enterprise-rag', stream: true,
    messages: [{ role: 'user', content: JSON.stringify({ metric: 'order_count', dimensions: ['region'] }) }],
  });
  let text = '';
  let finish = null;
  let sawRole = false;
  for await (const chunk of stream) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    const c = chunk.choices[0];
    if (c.delta.role) sawRole = true;
    text += c.delta.content || '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.ok(sawRole);
  assert.equal(finish, 'stop');
  assert.ok(text.startsWith('order_count (orders'), text);
  assert.equal(text.split('\n').length, 5, text);  // the heading and four regions
});

test('a document question is answered with a quoted passage', async () => {
  const r = await client('initech').chat.completions.create({
    model: 'keel-enterprise-rag',
    messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Within how many days may a customer return a product?' }],
  });
  assert.ok(r.choices[0].message.content.includes('60 days'), r.choices[0].message.content);
  assert.equal(r.keel.evidence.passages[0].document, 'refund-policy');
});

test('a bad token is an AuthenticationError', async () => {
  const bad = new OpenAI({ baseURL, apiKey: 'not-a-token', maxRetries: 0 });
  await assert.rejects(
    bad.chat.completions.create({ model: 'keel-enterprise-rag', messages: [{ role: 'user', content: 'revenue' }] }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401,
  );
});

test('models.list names the answer model', async () => {
  const models = await client('acme').models.list();
  assert.ok(models.data.some((m) => m.id === 'keel-enterprise-rag'));
});
