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

test('/customers/:id/risk: 400 (not 414) for an over-long or malformed id, the lookup never called; a valid id answers', async () => {
  const asked: string[] = [];
  const http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    lifecycle: () => ({ state: 'RUNNING', ready: true }),
    maxIdLength: 64,
    customerRisk: async (id) => (asked.push(id), id === 'c-1' ? { customer_id: id, score: 0.7, band: 'high', model_name: 'churn-gbdt', model_version: '1.0.0', event_time: 5, risk_event_id: 'r-1' } : null),
  });
  try {
    let res = await fetch(`${http.url}/customers/${'x'.repeat(65)}/risk`);
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /longer than 64 characters \(validation\.maxIdLength\)/);
    res = await fetch(`${http.url}/customers/${'y'.repeat(5000)}/risk`); // fastify's default limit (100) answered 414
    assert.equal(res.status, 400);
    res = await fetch(`${http.url}/customers/a%00b/risk`);
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { error: string }).error, /control characters/);
    assert.deepEqual(asked, []);
    res = await fetch(`${http.url}/customers/${'z'.repeat(64)}/risk`);
    assert.equal(res.status, 404);
    res = await fetch(`${http.url}/customers/c-1/risk`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { score: number }).score, 0.7);
  } finally {
    await http.close();
  }
});

test('/customers/:id/risk with a bearer token: 401 without or with a wrong token, 200 with it; /metrics and probes stay open', async () => {
  const token = 'lookup-token-0123456789abcdef';
  const http = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    registry: new Registry(),
    lifecycle: () => ({ state: 'RUNNING', ready: true }),
    bearerToken: token,
    customerRisk: async (id) => ({ customer_id: id, score: 0.1, band: 'low', model_name: 'churn-gbdt', model_version: '1.0.0', event_time: 1, risk_event_id: 'r-2' }),
  });
  try {
    let res = await fetch(`${http.url}/customers/c-1/risk`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="churnflow"');
    assert.ok(!(await res.text()).includes(token));
    res = await fetch(`${http.url}/customers/c-1/risk`, { headers: { authorization: `Bearer ${token}x` } });
    assert.equal(res.status, 401);
    res = await fetch(`${http.url}/customers/c-1/risk`, { headers: { authorization: `Basic ${token}` } });
    assert.equal(res.status, 401);
    res = await fetch(`${http.url}/customers/c-1/risk`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    // The token is checked before the id: an unauthenticated caller learns nothing about id rules.
    res = await fetch(`${http.url}/customers/${'x'.repeat(400)}/risk`);
    assert.equal(res.status, 401);
    assert.equal((await fetch(`${http.url}/metrics`)).status, 200);
    assert.equal((await fetch(`${http.url}/readyz`)).status, 200);
  } finally {
    await http.close();
  }
});
