import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChurnflowError } from '../../../src/errors.js';
import { checkRegistry } from '../../../src/preflight/check-registry.js';
import { classifyStartupError } from '../../../src/preflight/startup-problem.js';
import { RegistryClient } from '../../../src/serde/registry-client.js';

async function server(status: number, body: unknown): Promise<{ url: string; server: Server; auth: () => string | undefined }> {
  let auth: string | undefined;
  const s = createServer((req, res) => {
    auth = req.headers.authorization;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, server: s, auth: () => auth };
}

test('a registry that refuses the credentials (401/403) is a config error naming schemaRegistry.url, without the password', async () => {
  const secret = 'hunter2-s3cr3t';
  for (const status of [401, 403]) {
    const srv = await server(status, { error_code: 40101, message: 'Unauthorized' });
    const client = new RegistryClient({ url: `${srv.url.replace('//', `//svc:${secret}@`)}/apis/ccompat/v7`, maxRetries: 0 });
    try {
      await assert.rejects(checkRegistry(client, 'schemaRegistry.url'), (e: unknown) => {
        assert.ok(e instanceof ChurnflowError && e.code === 'CF_CONFIG_INVALID' && !e.retriable);
        assert.match(e.message, new RegExp(`^schemaRegistry\\.url: the schema registry at .* refused the credentials \\(HTTP ${status}\\)`));
        assert.ok(![e.message, JSON.stringify(e), JSON.stringify(e.details)].join().includes(secret));
        return true;
      });
      assert.ok(srv.auth()?.startsWith('Basic '), 'the credentials were sent');
    } finally {
      await client.close();
      srv.server.close();
    }
  }
});

test('a registry that answers passes; one that is not there is reported as unreachable, not as a config error', async () => {
  const srv = await server(200, ['a-value']);
  const ok = new RegistryClient({ url: srv.url, maxRetries: 0 });
  assert.equal(await checkRegistry(ok, 'schemaRegistry.url'), undefined);
  await ok.close();
  srv.server.close();
  const gone = new RegistryClient({ url: srv.url, maxRetries: 0, timeoutMs: 2000 });
  const problem = await checkRegistry(gone, 'schemaRegistry.url');
  assert.equal(problem?.kind, 'unreachable');
  await gone.close();
});

test('start-up errors: credentials and TLS problems are configuration errors, the rest an outage', () => {
  assert.deepEqual(classifyStartupError(new Error('WRONGPASS invalid username-password pair or user is disabled.')), { kind: 'credentials', detail: 'WRONGPASS' });
  assert.deepEqual(classifyStartupError(new Error('NOAUTH Authentication required.')), { kind: 'credentials', detail: 'NOAUTH' });
  assert.deepEqual(classifyStartupError(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })), { kind: 'tls', detail: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  assert.deepEqual(classifyStartupError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })), { kind: 'unreachable', detail: 'ECONNREFUSED' });
});
