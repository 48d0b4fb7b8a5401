// The openai client facing a saturated `keel serve` (one running slot, no waiting room): it sees
// 429 with Retry-After, and with retries enabled it honours Retry-After and gets through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = `${process.env.KEEL_URL}/v1`;
const model = process.env.KEEL_MODEL;

test('429 with Retry-After, then success after retrying', async () => {
  const noRetry = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 0 });
  // Occupy the only slot (each engine step takes 250 ms: --slow-step-ms).
  const long = noRetry.completions.create({ model, prompt: 'Once upon a time', max_tokens: 6, temperature: 0.8 });
  await new Promise((r) => setTimeout(r, 100));
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

  const patient = new OpenAI({ baseURL, apiKey: 'unused', maxRetries: 5 });
  const started = Date.now();
  const r = await patient.completions.create({ model, prompt: 'hello', max_tokens: 2 });
  assert.ok(r.choices[0].text !== undefined);
  await long;
  assert.ok(Date.now() - started >= 500, 'the client waited before it was admitted');
});
