// The official MCP TypeScript SDK against `keel rag mcp --http` (started by
// tests/apps/rag_serve_test.cpp, which passes the URL, a token per tenant and each tenant's Q1
// 2026 revenue computed directly): the semantic layer's tools as three tenants over Streamable
// HTTP. Run with `node --test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = new URL(process.env.KEEL_MCP_URL);
const tenants = ['acme', 'globex', 'initech'];

async function connect(token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers } });
  const client = new Client({ name: 'keel-rag-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}

test('each tenant lists the metrics it may query and gets its own figure', async () => {
  for (const tenant of tenants) {
    const client = await connect(process.env[`KEEL_TOKEN_${tenant}`]);
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    assert.deepEqual(tools, ['describe_metric', 'list_metrics', 'query_metric']);
    const listed = await client.callTool({ name: 'list_metrics', arguments: {} });
    const names = listed.structuredContent.metrics.map((m) => m.name);
    assert.ok(names.includes('revenue') && !names.includes('average_salary'), names.join(','));
    const r = await client.callTool({
      name: 'query_metric',
      arguments: { metric: 'revenue', range: { from: '2026-01-01', to: '2026-04-01' } },
    });
    assert.ok(!r.isError, JSON.stringify(r));
    const m = r.structuredContent.evidence.metrics[0];
    assert.equal(m.parameters[0], tenant);
    assert.equal(m.rows[0][0].toFixed(2), process.env[`KEEL_REVENUE_${tenant}`]);
    assert.equal(m.catalog_version, '2026.12.1');
    await client.close();
  }
});

test('outside the catalog or the roles is a typed limitation, not an error', async () => {
  const client = await connect(process.env.KEEL_TOKEN_acme);
  const salary = await client.callTool({ name: 'query_metric', arguments: { metric: 'average_salary' } });
  assert.ok(!salary.isError);
  assert.equal(salary.structuredContent.status, 'limited');
  assert.equal(salary.structuredContent.limitations[0].code, 'not_permitted');
  const described = await client.callTool({ name: 'describe_metric', arguments: { metric: 'average_salary' } });
  assert.equal(described.structuredContent.limitation.code, 'not_permitted');
  await client.close();
});

test('no token, no session', async () => {
  await assert.rejects(connect(''));
  await assert.rejects(connect('not.a.token'));
});
