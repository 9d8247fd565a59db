import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { startHttpServer } from '../../../src/observability/http-server.js';

test('/readyz answers 200 when ready, 503 with the JSON reason when not; /healthz answers either way', async () => {
  let state = { state: 'RUNNING', ready: true } as { state: string; ready: boolean; reason?: string };
  const http = await startHttpServer({ host: '127.0.0.1', port: 0, registry: new Registry(), lifecycle: () => state });
  try {
    let res = await fetch(`${http.url}/readyz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ready: true, lifecycle: 'RUNNING' });
    state = { state: 'RUNNING', ready: false, reason: 'no batch acknowledged for 31000 ms' };
    res = await fetch(`${http.url}/readyz`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { ready: false, lifecycle: 'RUNNING', reason: 'no batch acknowledged for 31000 ms' });
    res = await fetch(`${http.url}/healthz`);
    assert.equal(res.status, 200);
  } finally {
    await http.close();
  }
});
