import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load-config.js';
import { registryClientFromConfig } from '../../../src/serde/registry-from-config.js';

test('registryClientFromConfig: basic auth with the password from a file goes out as the Authorization header, never into the URL', async () => {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('content-type', 'application/json');
    res.end('["a-value"]');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(join(tmpdir(), 'cf-reg-auth-'));
  writeFileSync(join(dir, 'pw'), 'registry-pa55word\n');
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/apis/ccompat/v7`;
  const config = loadConfig({ env: {}, overrides: { schemaRegistry: { url, basicAuth: { username: 'svc', passwordFile: join(dir, 'pw') } } } });
  const client = registryClientFromConfig(config.schemaRegistry, { maxRetries: 0 });
  try {
    assert.deepEqual(await client.subjects(), ['a-value']);
    assert.equal(seen[0]?.authorization, `Basic ${Buffer.from('svc:registry-pa55word').toString('base64')}`);
    assert.equal(client.url, url);
  } finally {
    await client.close();
    server.close();
  }
});

test('registryClientFromConfig: an https URL with an unreadable CA file fails naming schemaRegistry.tls.caFile', () => {
  const config = loadConfig({ env: {}, overrides: { schemaRegistry: { url: 'https://registry.example:8443/apis/ccompat/v7', tls: { caFile: '/nonexistent/ca.pem' } } } });
  assert.throws(() => registryClientFromConfig(config.schemaRegistry), /schemaRegistry\.tls\.caFile: cannot read \/nonexistent\/ca\.pem \(ENOENT\)/);
});
