import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load-config.js';
import { ChurnflowError } from '../../../src/errors.js';

const invalid = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_CONFIG_INVALID' && !e.retriable && re.test(e.message));

test('defaults are complete and frozen', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.engine.batch.maxSize, 512);
  assert.equal(c.state.kind, 'memory');
  assert.ok(Object.isFrozen(c.engine.batch));
});

test('file < env < overrides', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cf-config-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, 'engine:\n  batch:\n    maxSize: 100\n  maxInFlight: 400\nlog:\n  level: debug\nhttp:\n  port: 1000\n');
  const c = loadConfig({ file, env: { CHURNFLOW_HTTP_PORT: '2000', CHURNFLOW_LOG_LEVEL: 'warn' }, overrides: { log: { level: 'error' } } });
  assert.equal(c.engine.batch.maxSize, 100);
  assert.equal(c.http.port, 2000);
  assert.equal(c.log.level, 'error');
});

test('errors name the key, the allowed values and what was given', () => {
  invalid(() => loadConfig({ env: {}, overrides: { engine: { batch: { maxSize: 0 } } } }), /engine\.batch\.maxSize: .*>=1.*\(got 0\)/);
  invalid(() => loadConfig({ env: {}, overrides: { state: { kind: 'mongo' } } }), /state\.kind: .*"memory"\|"redis".*\(got "mongo"\)/);
  invalid(() => loadConfig({ env: {}, overrides: { engine: { batchz: 1 } } }), /engine: Unrecognized key: "batchz"/);
  invalid(() => loadConfig({ env: { CHURNFLOW_HTTP_PORT: 'eighty' } }), /CHURNFLOW_HTTP_PORT \(config key http\.port\) must be a number/);
  invalid(() => loadConfig({ env: {}, overrides: { engine: { batch: { maxSize: 600 }, maxInFlight: 700 } } }), /engine\.maxInFlight: must be at least twice engine\.batch\.maxSize \(1200\)/);
  invalid(() => loadConfig({ file: '/nonexistent/c.yaml', env: {} }), /cannot read config file/);
});

test('the example production config in deploy/ is valid', () => {
  const c = loadConfig({ file: 'deploy/churnflow.yaml', env: {} });
  assert.equal(c.source.kind, 'kafka');
  assert.equal(c.state.kind, 'redis');
  assert.deepEqual(c.kafka.topics.activity, ['churnflow.activity']);
});
