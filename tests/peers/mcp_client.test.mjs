// The official MCP TypeScript SDK (@modelcontextprotocol/sdk) against `keel mcp serve`, over
// stdio (the test spawns the server) and over Streamable HTTP (a server started beforehand,
// whose URL, tokens and state dir come in the environment). Run with `node --test`.
//
// Environment:
//   KEEL_BIN                    path to the keel binary
//   KEEL_REPO                   repository root (for examples/*.yaml)
//   KEEL_STATE_DIR              a fresh, empty directory for the stdio server's state
//   KEEL_STORE                  a research index built from examples/local-research/docs
//   KEEL_MCP_URL                http://HOST:PORT/mcp of a running `keel mcp serve --http` over both specs, with --tokens
//   KEEL_MCP_TOKEN_AGENT        bearer token of principal `agent`
//   KEEL_MCP_TOKEN_SUPERVISOR   bearer token of principal `supervisor`
//   KEEL_HTTP_STATE_DIR         --state-dir of that HTTP server (for `keel agent approve`); must start fresh,
//                               since the test refunds ORD-1002 in full
//
// By hand, from the repository root:
//   T=$(mktemp -d)
//   build/keel index --docs examples/local-research/docs --store $T/store -q
//   A=agent-token-0123456789abcdef S=supervisor-token-0123456789abcdef
//   printf 'principals:\n  - {id: agent, tokens_sha256: [%s]}\n  - {id: supervisor, tokens_sha256: [%s]}\n' \
//     $(printf %s $A | sha256sum | cut -d' ' -f1) $(printf %s $S | sha256sum | cut -d' ' -f1) > $T/tokens.yaml
//   mkdir $T/http-state $T/stdio-state
//   build/keel mcp serve --spec examples/durable-agent.yaml --spec examples/local-research.yaml --store $T/store \
//     --http 127.0.0.1:18765 --tokens $T/tokens.yaml --state-dir $T/http-state &
//   KEEL_BIN=$PWD/build/keel KEEL_REPO=$PWD KEEL_STATE_DIR=$T/stdio-state KEEL_STORE=$T/store \
//   KEEL_MCP_URL=http://127.0.0.1:18765/mcp KEEL_MCP_TOKEN_AGENT=$A KEEL_MCP_TOKEN_SUPERVISOR=$S \
//   KEEL_HTTP_STATE_DIR=$T/http-state node --test tests/peers/mcp_client.test.mjs
//   kill %1
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

function env(name) {
  const v = process.env[name];
  assert.ok(v, `${name} is not set`);
  return v;
}

const PROTOCOL = '2025-11-25';
const run = randomUUID().slice(0, 8);  // keeps idempotency keys unique to this run
const spec = (name) => path.join(env('KEEL_REPO'), 'examples', name);
// The supervisor's demo signing key, registered in examples/durable-agent.yaml (demo only).
const DEMO_KEY = () => path.join(env('KEEL_REPO'), 'examples', 'durable-agent', 'supervisor.demo.key');
const READ_TOOLS = ['get_case', 'lookup_order', 'check_refund_policy', 'read_memory_notes'];
const WRITE_TOOLS = ['issue_refund', 'set_case_status', 'add_case_note', 'write_memory_note'];

function newClient() {
  return new Client({ name: 'keel-peer-test', version: '1.0.0' });
}

// ---- stdio -------------------------------------------------------------------------------------

async function withStdio(fn) {
  const transport = new StdioClientTransport({
    command: env('KEEL_BIN'),
    args: ['mcp', 'serve', '--spec', spec('durable-agent.yaml'), '--spec', spec('local-research.yaml'),
      '--store', env('KEEL_STORE'), '--stdio', '--state-dir', env('KEEL_STATE_DIR')],
    cwd: env('KEEL_REPO'),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr += d; });
  const client = newClient();
  try {
    await client.connect(transport);
    return await fn(client);
  } catch (e) {
    if (stderr) e.message += `\nkeel stderr:\n${stderr}`;
    throw e;
  } finally {
    await client.close();
  }
}

test('stdio: initialize negotiates the protocol and names the server', async () => {
  await withStdio(async (client) => {
    assert.equal(client.getServerVersion().name, 'keel');
    const caps = client.getServerCapabilities();
    assert.ok(caps.tools && caps.resources && caps.prompts, JSON.stringify(caps));
    assert.match(client.getInstructions() ?? '', /idempotency_key/);
    assert.ok(client.transport, 'connected');
  });
});

test('stdio: tools/list has the spec\'s tools with schemas and annotations', async () => {
  await withStdio(async (client) => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const name of [...READ_TOOLS, ...WRITE_TOOLS]) {
      const t = byName[name];
      assert.ok(t, `tools: ${Object.keys(byName)}`);
      assert.equal(t.inputSchema.type, 'object', name);
      assert.equal(t.outputSchema?.type, 'object', name);
      assert.ok(t.annotations, name);
      assert.equal(typeof t.description, 'string');
    }
    assert.equal(byName.issue_refund.annotations.destructiveHint, true);
    assert.equal(byName.issue_refund.annotations.readOnlyHint, false);
    assert.equal(byName.lookup_order.annotations.readOnlyHint, true);
    assert.equal(byName.lookup_order.annotations.destructiveHint, false);
    for (const name of READ_TOOLS) {
      assert.equal(byName[name].annotations.readOnlyHint, true, name);
      assert.ok(!(byName[name].inputSchema.required ?? []).includes('idempotency_key'), name);
    }
    for (const name of WRITE_TOOLS) {
      const s = byName[name].inputSchema;
      assert.equal(byName[name].annotations.readOnlyHint, false, name);
      assert.ok(s.required.includes('idempotency_key'), `${name} requires idempotency_key`);
      assert.equal(s.properties.idempotency_key.type, 'string');
      assert.equal(s.properties.idempotency_key.minLength, 8);
      assert.equal(s.properties.idempotency_key.maxLength, 200);
    }
    assert.ok(byName.lookup_order.inputSchema.required.includes('order_id'));
  });
});

test('stdio: lookup_order returns structured content', async () => {
  await withStdio(async (client) => {
    const r = await client.callTool({ name: 'lookup_order', arguments: { order_id: 'ORD-1001' } });
    assert.ok(!r.isError, JSON.stringify(r));
    assert.equal(r.structuredContent.status, 'done');
    assert.equal(r.structuredContent.result.total, 45);
    assert.equal(r.structuredContent.result.order_id, 'ORD-1001');
    assert.equal(r.content[0].type, 'text');
    assert.deepEqual(JSON.parse(r.content[0].text), r.structuredContent.result);

    const missing = await client.callTool({ name: 'lookup_order', arguments: { order_id: 'ORD-9999' } });
    assert.equal(missing.isError, true);
    const invalid = await client.callTool({ name: 'lookup_order', arguments: { order_id: 7 } });
    assert.equal(invalid.isError, true, 'schema violations are tool errors');
  });
});

test('stdio: documents are resources that read back with their hash', async () => {
  await withStdio(async (client) => {
    const { resources } = await client.listResources();
    assert.ok(resources.length > 0);
    for (const r of resources) {
      assert.match(r.uri, /^keel-doc:[^?#]+\?sha256=[0-9a-f]{64}$/, r.uri);
      assert.equal(typeof r.name, 'string');
    }
    const md = resources.find((r) => r.mimeType === 'text/markdown');
    assert.ok(md, 'a markdown document');
    const { contents } = await client.readResource({ uri: md.uri });
    assert.equal(contents.length, 1);
    assert.equal(contents[0].uri, md.uri);
    assert.equal(contents[0].mimeType, 'text/markdown');
    assert.ok(contents[0].text.length > 0);
    // Markdown is served as it is, so its hash is the one the URI names.
    const sha = md.uri.split('sha256=')[1];
    assert.equal(createHash('sha256').update(contents[0].text, 'utf8').digest('hex'), sha);

    const html = resources.find((r) => r.name.endsWith('.html'));
    if (html) {
      const h = await client.readResource({ uri: html.uri });
      assert.equal(h.contents[0].mimeType, html.mimeType);
      assert.ok(!/<html|<body/i.test(h.contents[0].text), 'HTML comes back as its visible text');
    }

    const stale = md.uri.replace(/sha256=[0-9a-f]{64}$/, `sha256=${'0'.repeat(64)}`);
    await assert.rejects(client.readResource({ uri: stale }), (e) => e.code === -32002);
  });
});

test('stdio: prompts list and ask_with_sources cites keel-doc URIs', async () => {
  await withStdio(async (client) => {
    const { prompts } = await client.listPrompts();
    const p = prompts.find((x) => x.name === 'ask_with_sources');
    assert.ok(p, `prompts: ${prompts.map((x) => x.name)}`);
    const q = p.arguments.find((a) => a.name === 'question');
    assert.ok(q && q.required === true);

    const r = await client.getPrompt({ name: 'ask_with_sources', arguments: { question: 'What is a KV cache?', k: '2' } });
    assert.ok(r.messages.length > 0);
    const text = r.messages.map((m) => (m.content.type === 'text' ? m.content.text : '')).join('\n');
    assert.equal(r.messages[0].role, 'user');
    assert.match(text, /keel-doc:/);
    assert.match(text, /\[1\]/);
    assert.match(text, /\[2\]/);
    assert.doesNotMatch(text, /\[3\]/, 'k=2 gives two sources');
    assert.match(text, /What is a KV cache\?/);

    await assert.rejects(client.getPrompt({ name: 'ask_with_sources', arguments: {} }), (e) => e.code === -32602);
  });
});

// ---- Streamable HTTP ---------------------------------------------------------------------------

async function connectHttp(token) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const transport = new StreamableHTTPClientTransport(new URL(env('KEEL_MCP_URL')), { requestInit: { headers } });
  const client = newClient();
  await client.connect(transport);
  return client;
}

async function withHttp(token, fn) {
  const client = await connectHttp(token);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

test('http: a write tool replays its first outcome for the same idempotency_key', async () => {
  await withHttp(env('KEEL_MCP_TOKEN_AGENT'), async (client) => {
    const key = `note-${run}-a`;
    const args = { case_id: 'CASE-1', text: `peer test note ${run}`, idempotency_key: key };
    const first = await client.callTool({ name: 'add_case_note', arguments: args });
    assert.ok(!first.isError, JSON.stringify(first));
    assert.equal(first.structuredContent.status, 'done');
    const noteId = first.structuredContent.result.note_id;
    assert.ok(noteId !== undefined && noteId !== null, JSON.stringify(first.structuredContent));

    const again = await client.callTool({ name: 'add_case_note', arguments: args });
    assert.equal(again.structuredContent.status, 'done');
    assert.equal(again.structuredContent.result.note_id, noteId);

    const other = await client.callTool({ name: 'add_case_note', arguments: { ...args, idempotency_key: `note-${run}-b` } });
    assert.equal(other.structuredContent.status, 'done');
    assert.notEqual(other.structuredContent.result.note_id, noteId);

    const changed = await client.callTool({ name: 'add_case_note', arguments: { ...args, text: 'something else' } });
    assert.equal(changed.isError, true, JSON.stringify(changed));
    assert.equal(changed.structuredContent, undefined);
  });
  // The key belongs to the session's principal and outlives the session.
  await withHttp(env('KEEL_MCP_TOKEN_AGENT'), async (client) => {
    const args = { case_id: 'CASE-1', text: `peer test note ${run}`, idempotency_key: `note-${run}-a` };
    const r1 = await client.callTool({ name: 'add_case_note', arguments: args });
    const r2 = await client.callTool({ name: 'add_case_note', arguments: args });
    assert.equal(r1.structuredContent.result.note_id, r2.structuredContent.result.note_id);
  });
});

test('http: a write tool without an idempotency_key is a tool error', async () => {
  await withHttp(env('KEEL_MCP_TOKEN_AGENT'), async (client) => {
    const r = await client.callTool({ name: 'add_case_note', arguments: { case_id: 'CASE-1', text: 'no key' } });
    assert.equal(r.isError, true, JSON.stringify(r));
    assert.match(r.content[0].text, /idempotency_key/);
    const short = await client.callTool({ name: 'add_case_note', arguments: { case_id: 'CASE-1', text: 'short key', idempotency_key: 'abc' } });
    assert.equal(short.isError, true, 'a key under 8 characters is refused');
    const long = await client.callTool({
      name: 'add_case_note', arguments: { case_id: 'CASE-1', text: 'long key', idempotency_key: `k${run}`.padEnd(201, 'x') },
    });
    assert.equal(long.isError, true, 'a key over 200 characters is refused (inputSchema maxLength 200)');
  });
});

test('http: a refund over 100 waits for approval, then executes once', async () => {
  await withHttp(env('KEEL_MCP_TOKEN_AGENT'), async (client) => {
    const refunded = async () => {
      const o = await client.callTool({ name: 'lookup_order', arguments: { order_id: 'ORD-1002' } });
      assert.equal(o.structuredContent.status, 'done');
      return o.structuredContent.result.refunded_total;
    };
    const before = await refunded();
    const args = { case_id: 'CASE-2', order_id: 'ORD-1002', amount: 240, reason: 'stopped charging', idempotency_key: `refund-${run}` };
    const pending = await client.callTool({ name: 'issue_refund', arguments: args });
    assert.ok(!pending.isError, JSON.stringify(pending));
    assert.equal(pending.structuredContent.status, 'pending_approval');
    const approval = pending.structuredContent.approval;
    assert.ok(approval.id, JSON.stringify(approval));
    assert.equal(typeof approval.case, 'string');
    assert.equal(typeof approval.step, 'number');
    assert.match(approval.args_sha256, /^[0-9a-f]{64}$/);
    assert.equal(await refunded(), before, 'nothing is executed while the approval is pending');

    const still = await client.callTool({ name: 'issue_refund', arguments: args });
    assert.equal(still.structuredContent.status, 'pending_approval');
    assert.equal(still.structuredContent.approval.id, approval.id);

    execFileSync(env('KEEL_BIN'), [
      'agent', 'approve', approval.case, String(approval.step), '--key', DEMO_KEY(), '--args-sha256', approval.args_sha256,
      '--spec', spec('durable-agent.yaml'), '--state-dir', env('KEEL_HTTP_STATE_DIR'),
    ], { cwd: env('KEEL_REPO'), stdio: ['ignore', 'pipe', 'pipe'] });

    const done = await client.callTool({ name: 'issue_refund', arguments: args });
    assert.ok(!done.isError, JSON.stringify(done));
    assert.equal(done.structuredContent.status, 'done');
    assert.equal(done.structuredContent.result.status, 'issued');
    assert.equal(done.structuredContent.result.amount, 240);
    assert.equal(await refunded(), before + 240);

    const replay = await client.callTool({ name: 'issue_refund', arguments: args });
    assert.deepEqual(replay.structuredContent, done.structuredContent);
    assert.equal(await refunded(), before + 240, 'a replay refunds nothing more');
  });
});

test('http: a denied refund is an error result and executes nothing', async () => {
  await withHttp(env('KEEL_MCP_TOKEN_AGENT'), async (client) => {
    const refunded = async () => (await client.callTool({ name: 'lookup_order', arguments: { order_id: 'ORD-1004' } }))
      .structuredContent.result.refunded_total;
    const before = await refunded();
    const args = { case_id: 'CASE-4', order_id: 'ORD-1004', amount: 200, reason: 'dead pixels', idempotency_key: `deny-${run}` };
    const pending = await client.callTool({ name: 'issue_refund', arguments: args });
    assert.equal(pending.structuredContent.status, 'pending_approval', JSON.stringify(pending));
    const { case: caseId, step } = pending.structuredContent.approval;
    execFileSync(env('KEEL_BIN'), [
      'agent', 'deny', caseId, String(step), '--key', DEMO_KEY(), '--reason', 'peer test',
      '--spec', spec('durable-agent.yaml'), '--state-dir', env('KEEL_HTTP_STATE_DIR'),
    ], { cwd: env('KEEL_REPO'), stdio: ['ignore', 'pipe', 'pipe'] });
    const denied = await client.callTool({ name: 'issue_refund', arguments: args });
    assert.equal(denied.isError, true, JSON.stringify(denied));
    assert.match(denied.content[0].text, /denied/);
    assert.equal(await refunded(), before);
  });
});

test('http: the supervisor approves over MCP with its token; the agent may not', async () => {
  let approval;
  const args = { case_id: 'CASE-4', order_id: 'ORD-1004', amount: 150, reason: 'dead pixels, partial refund', idempotency_key: `mcp-approve-${run}` };
  await withHttp(env('KEEL_MCP_TOKEN_AGENT'), async (client) => {
    const { tools } = await client.listTools();
    assert.ok(!tools.some((t) => t.name === 'approve_pending_action'), 'the agent is offered no approval tool');
    const pending = await client.callTool({ name: 'issue_refund', arguments: args });
    assert.equal(pending.structuredContent.status, 'pending_approval', JSON.stringify(pending));
    approval = pending.structuredContent.approval;
    await assert.rejects(
      client.callTool({ name: 'approve_pending_action', arguments: { case: approval.case, step: approval.step, args_sha256: approval.args_sha256 } }),
      (e) => {
        assert.ok(e.code === 403 || /\b403\b|Forbidden|no role/i.test(String(e.message)), `${e.code}: ${e.message}`);
        return true;
      },
    );
  });
  await withHttp(env('KEEL_MCP_TOKEN_SUPERVISOR'), async (client) => {
    const { tools } = await client.listTools();
    for (const name of ['list_pending_approvals', 'approve_pending_action', 'deny_pending_action']) {
      assert.ok(tools.some((t) => t.name === name), `${name} is offered to the supervisor`);
    }
    const listed = await client.callTool({ name: 'list_pending_approvals', arguments: {} });
    const item = listed.structuredContent.pending.find((p) => p.case === approval.case);
    assert.ok(item, JSON.stringify(listed.structuredContent));
    assert.equal(item.args_sha256, approval.args_sha256);
    assert.equal(item.args.amount, 150);
    const wrong = await client.callTool({ name: 'approve_pending_action', arguments: { case: approval.case, step: approval.step, args_sha256: '0'.repeat(64) } });
    assert.equal(wrong.isError, true, 'an approval for other arguments is refused');
    const ok = await client.callTool({ name: 'approve_pending_action', arguments: { case: approval.case, step: approval.step, args_sha256: approval.args_sha256, note: 'peer test' } });
    assert.ok(!ok.isError, JSON.stringify(ok));
    assert.equal(ok.structuredContent.decision, 'granted');
    assert.equal(ok.structuredContent.by, 'supervisor');
  });
  await withHttp(env('KEEL_MCP_TOKEN_AGENT'), async (client) => {
    const done = await client.callTool({ name: 'issue_refund', arguments: args });
    assert.equal(done.structuredContent?.status, 'done', JSON.stringify(done));
    assert.equal(done.structuredContent.result.amount, 150);
  });
});

test('http: connecting without a token fails with 401', async () => {
  await assert.rejects(connectHttp(undefined), (e) => {
    assert.ok(e.code === 401 || /\b401\b|Unauthorized/i.test(String(e.message)), `${e.code}: ${e.message}`);
    return true;
  });
  await assert.rejects(connectHttp('not-a-valid-token'), (e) => {
    assert.ok(e.code === 401 || /\b401\b|Unauthorized/i.test(String(e.message)), `${e.code}: ${e.message}`);
    return true;
  });
});

test('http: the supervisor may not use set_case_status (403)', async () => {
  await withHttp(env('KEEL_MCP_TOKEN_SUPERVISOR'), async (client) => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(names.includes('issue_refund'), `${names}`);
    assert.ok(!names.includes('set_case_status'), 'tools/list shows only what the principal may use');
    const ok = await client.callTool({ name: 'lookup_order', arguments: { order_id: 'ORD-1001' } });
    assert.equal(ok.structuredContent.status, 'done');
    await assert.rejects(
      client.callTool({ name: 'set_case_status', arguments: { case_id: 'CASE-3', status: 'closed', idempotency_key: `status-${run}` } }),
      (e) => {
        assert.ok(e.code === 403 || /\b403\b|Forbidden|may not use/i.test(String(e.message)), `${e.code}: ${e.message}`);
        return true;
      },
    );
    const after = await client.callTool({ name: 'lookup_order', arguments: { order_id: 'ORD-1001' } });
    assert.equal(after.structuredContent.status, 'done', 'the session survives a refused call');
  });
  // The agent (case-manager) sees and may use it.
  await withHttp(env('KEEL_MCP_TOKEN_AGENT'), async (client) => {
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'set_case_status'));
  });
});

test('http: raw requests: origin, methods and sessions', async () => {
  const url = env('KEEL_MCP_URL');
  const auth = { Authorization: `Bearer ${env('KEEL_MCP_TOKEN_AGENT')}` };
  const json = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  const post = (body, headers = {}) => fetch(url, { method: 'POST', headers: { ...json, ...auth, ...headers }, body: JSON.stringify(body) });
  const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize',
    params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } };
  const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };

  const evil = await post(initialize, { Origin: 'http://evil.example' });
  assert.equal(evil.status, 403);
  await evil.body?.cancel();
  const local = await post(initialize, { Origin: 'http://localhost:6274' });
  assert.equal(local.status, 200, 'a localhost origin is allowed');
  await local.body?.cancel();

  const noAuth = await fetch(url, { method: 'POST', headers: json, body: JSON.stringify(initialize) });
  assert.equal(noAuth.status, 401);
  assert.match(noAuth.headers.get('www-authenticate') ?? '', /^Bearer /);
  await noAuth.body?.cancel();

  const init = await post(initialize);
  assert.equal(init.status, 200);
  assert.match(init.headers.get('content-type'), /^application\/json/);
  const session = init.headers.get('mcp-session-id');
  assert.match(session ?? '', /^[\x21-\x7e]+$/, 'initialize issues a visible-ASCII Mcp-Session-Id');
  const initBody = await init.json();
  assert.equal(initBody.id, 1);
  assert.equal(initBody.result.protocolVersion, PROTOCOL);
  const withSession = { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': PROTOCOL };

  const note = await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, withSession);
  assert.equal(note.status, 202);
  await note.body?.cancel();
  const pong = await post(ping, withSession);
  assert.equal(pong.status, 200);
  assert.deepEqual(await pong.json(), { jsonrpc: '2.0', id: 2, result: {} });

  const get = await fetch(url, { method: 'GET', headers: { ...auth, ...withSession, Accept: 'text/event-stream' } });
  assert.equal(get.status, 405);
  await get.body?.cancel();

  const noSession = await post(ping);
  assert.equal(noSession.status, 400);
  await noSession.body?.cancel();

  const unknown = await post(ping, { 'Mcp-Session-Id': 'no-such-session-0000', 'MCP-Protocol-Version': PROTOCOL });
  assert.equal(unknown.status, 404);
  await unknown.body?.cancel();

  // A session belongs to the principal that opened it.
  const stolen = await post(ping, { ...withSession, Authorization: `Bearer ${env('KEEL_MCP_TOKEN_SUPERVISOR')}` });
  assert.equal(stolen.status, 404);
  await stolen.body?.cancel();

  const badVersion = await post(ping, { 'Mcp-Session-Id': session, 'MCP-Protocol-Version': '1999-01-01' });
  assert.equal(badVersion.status, 400);
  await badVersion.body?.cancel();

  const del = await fetch(url, { method: 'DELETE', headers: { ...auth, ...withSession } });
  assert.ok(del.status >= 200 && del.status < 300, `DELETE: ${del.status}`);
  await del.body?.cancel();
  const gone = await post(ping, withSession);
  assert.equal(gone.status, 404, 'a deleted session is gone');
  await gone.body?.cancel();
});
