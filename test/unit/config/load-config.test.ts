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
  invalid(() => loadConfig({ env: {}, overrides: { engine: { batchz: 1 } } }), /engine\.batchz: unknown key \(allowed under engine: allowedLatenessMs, watermark, batch, maxInFlight, risk\)/);
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

test('unknown keys are refused at every level, naming the full key path and the allowed keys', () => {
  invalid(() => loadConfig({ env: {}, overrides: { enigne: {} } }), /^invalid configuration:\n  - enigne: unknown key \(allowed under the top level: engine, features, model, .*http, log, instance\)$/);
  invalid(() => loadConfig({ env: {}, overrides: { model: { rollback: { maxErrorRates: 0.1 } } } }), /model\.rollback\.maxErrorRates: unknown key \(allowed under model\.rollback: enabled, minScores, maxErrorRate, maxLatencyP99Ms, maxScorePsi\)/);
  invalid(() => loadConfig({ env: {}, overrides: { fallback: { rules: [{ feature: 'x', op: '>', value: 1, score: 0.5, weight: 2 }] } } }), /fallback\.rules\.0\.weight: unknown key \(allowed under fallback\.rules\.0: feature, op, value, score\)/);
  invalid(() => loadConfig({ env: {}, overrides: { http: { readiness: { stallAfter: 5 } } } }), /http\.readiness\.stallAfter: unknown key \(allowed under http\.readiness: stallAfterMs\)/);
});

test('monitoring.options: a typo is refused (it used to be ignored), known options pass through', () => {
  invalid(() => loadConfig({ env: {}, overrides: { monitoring: { options: { psiWran: 0.2 } } } }), /monitoring\.options\.psiWran: unknown key \(allowed under monitoring\.options: windowMs, slideMs, psiWarn, psiAlert, .*referenceRows\)/);
  invalid(() => loadConfig({ env: {}, overrides: { monitoring: { options: { psiWarn: 'high' } } } }), /monitoring\.options\.psiWarn: .*expected number.*\(got "high"\)/);
  const c = loadConfig({ env: {}, overrides: { monitoring: { options: { psiWarn: 0.2, minSamples: 10 } } } });
  assert.deepEqual({ ...c.monitoring.options }, { psiWarn: 0.2, minSamples: 10 });
});

test('http.readiness.stallAfterMs: default 30 s, bounds named', () => {
  assert.equal(loadConfig({ env: {} }).http.readiness.stallAfterMs, 30_000);
  invalid(() => loadConfig({ env: {}, overrides: { http: { readiness: { stallAfterMs: 5 } } } }), /http\.readiness\.stallAfterMs: .*>=100.*\(got 5\)/);
});

/** The secret must not appear in the message, the details, or anything the error serializes to. */
function refusedWithoutSecret(fn: () => unknown, secret: string, expect: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ChurnflowError && caught.code === 'CF_CONFIG_INVALID', `expected CF_CONFIG_INVALID, got ${String(caught)}`);
  assert.match(caught.message, expect);
  const serialized = [caught.message, caught.stack ?? '', JSON.stringify(caught), JSON.stringify(caught.details), String(caught)].join('\n');
  assert.ok(!serialized.includes(secret), `the secret leaked: ${serialized}`);
}

test('no config error echoes a secret: URL passwords, sasl blocks, password/token keys', () => {
  const secret = 'hunter2-s3cr3t';
  // A bad value next to a secret: the quoted value is the URL without its password.
  refusedWithoutSecret(() => loadConfig({ env: {}, overrides: { schemaRegistry: { url: `http://svc:${secret}@` } } }), secret, /schemaRegistry\.url: Invalid URL \(got "http:\/\/svc:\*\*\*@"\)/);
  // An unknown block holding credentials (kafka.sasl used to print whole).
  refusedWithoutSecret(() => loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'plain', username: 'u', password: secret }, brokers: 'not-a-list' } } }), secret, /kafka\.sasl: unknown key/);
  // A wrong type under a secret-named key: the value is never quoted.
  refusedWithoutSecret(() => loadConfig({ env: {}, overrides: { state: { redis: { url: 42, password: secret } } } }), secret, /state\.redis\.password: unknown key/);
  refusedWithoutSecret(() => loadConfig({ env: {}, overrides: { state: { redis: { url: { token: secret } } } } }), secret, /state\.redis\.url: .*expected string.*\(got \{"token":"\*\*\*"\}\)/);
  // From the environment: a Redis URL with a password, one bad sibling value.
  refusedWithoutSecret(() => loadConfig({ env: { CHURNFLOW_REDIS_URL: `redis://default:${secret}@10.0.0.1:6379`, CHURNFLOW_STATE_KIND: 'mongo' } }), secret, /state\.kind/);
  // A file that does not parse: the parser's excerpt of the file is not quoted.
  const dir = mkdtempSync(join(tmpdir(), 'cf-config-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, `state:\n  redis:\n    url: redis://:${secret}@h:6379: [\n`);
  refusedWithoutSecret(() => loadConfig({ file, env: {} }), secret, /is not valid YAML\/JSON/);
});
