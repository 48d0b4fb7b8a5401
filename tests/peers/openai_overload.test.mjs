// The openai client facing a saturated `keel serve` (one running slot, no waiting room): it sees
// 429 with Retry-After, and with retries enabled it honours Retry-After and gets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = `${process.env.KEEL_URL}/v1`;
const model = process.env.KEEL_MODEL;

// Polls the server's /metrics until `series` reaches `value` (a state, not a fixed wait).
async function untilMetric(series, value, timeoutMs = 30000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(`${process.env.KEEL_URL}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${series} `));
    if (line && Number(line.split(' ')[1]) >= value) return;
    if (Date.now() > deadline) throw new Error(`${series} never reached ${value}:\n${text}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('429 with Retry-After, then success after retrying', async () => {
  const noRetry = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });
  // Occupy the only slot (each engine step takes 250 ms: --slow-step-ms).
  const long = noRetry.completions.create({ model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0.8 });
  await untilMetric('keel_requests_running', 1);
  let rejected;
  try {
    await noRetry.completions.create({ model, prompt: 'hello', max_tokens: 2 });
  } catch (e) {
    rejected = e;
  }
  assert.ok(rejected, 'a request past the bound must be refused');
  assert.equal(rejected.status, 429);
  assert.ok(Number(rejected.headers.get('retry-after')) >= 1, 'Retry-After is a number of seconds');
  assert.ok(['overloaded', 'rate_limit_exceeded'].includes(rejected.error?.type), `type ${rejected.error?.type}`);

  // Every attempt the retrying client makes, with when it was made and what came back.
  const attempts = [];
  const recording = async (url, init) => {
    const at = Date.now();
    const response = await fetch(url, init);
    attempts.push({ at, status: response.status, retryAfter: Number(response.headers.get('retry-after')) });
    return response;
  };
  const patient = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 5, fetch: recording });
  const r = await patient.completions.create({ model, prompt: 'hello', max_tokens: 2 });
  assert.ok(r.choices[0].text !== undefined);
  await long;
  const statuses = attempts.map((a) => a.status);
  assert.equal(statuses[0], 429, `the slot was still taken: ${JSON.stringify(attempts)}`);
  assert.equal(statuses[statuses.length - 1], 200, JSON.stringify(attempts));
  // Honouring Retry-After: each retry came no sooner than the server asked (a lower bound the
  // client's own timer guarantees, whatever the machine's speed).
  for (let i = 1; i < attempts.length; ++i) {
    const asked = attempts[i - 1].retryAfter * 1000;
    assert.ok(attempts[i].at - attempts[i - 1].at >= asked - 5, `retry ${i} came early: ${JSON.stringify(attempts)}`);
  }
});
