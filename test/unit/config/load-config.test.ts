import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/load-config.js';
import { ChurnflowError } from '../../../src/errors.js';
import { refusedAsConfigError } from '../../helpers/config-errors.js';
import { emitPolicy } from '../../../src/config/decision-options.js';

const invalid = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_CONFIG_INVALID' && !e.retriable && re.test(e.message));

test('defaults are complete and frozen', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.engine.batch.maxSize, 8192);
  // One batch running and the next filling need twice the batch in flight.
  assert.ok(c.engine.maxInFlight >= 2 * c.engine.batch.maxSize);
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

test('no config error echoes a secret: URL passwords, sasl blocks, password/token keys', () => {
  const secret = 'hunter2-s3cr3t';
  // A bad value next to a secret: the quoted value is the URL without its password.
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { schemaRegistry: { url: `http://svc:${secret}@` } } }), /schemaRegistry\.url: Invalid URL \(got "http:\/\/svc:\*\*\*@"\)/, secret);
  // A credentials block next to a bad value, and a bad value inside it (kafka.sasl used to print whole).
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'plain', username: 'u', password: secret }, brokers: 'not-a-list' } } }), /kafka\.brokers: .*expected array/, secret);
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'gssapi', username: 'u', password: secret } } } }), /kafka\.sasl\.mechanism: .*"plain"\|"scram-sha-256"\|"scram-sha-512"/, secret);
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'plain', username: 'u', password: secret, pasword: secret } } } }), /kafka\.sasl\.pasword: unknown key/, secret);
  // A wrong type next to a secret-named key: the secret is never quoted.
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { state: { redis: { url: 42, password: secret } } } }), /state\.redis\.url: .*expected string/, secret);
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { http: { customerLookup: { bearerToken: 'short-s3cr3t' } } } }), /http\.customerLookup\.bearerToken: at least 16 characters \(got \*\*\*\)/, 'short-s3cr3t');
  refusedAsConfigError(() => loadConfig({ env: {}, overrides: { state: { redis: { url: { token: secret } } } } }), /state\.redis\.url: .*expected string.*\(got \{"token":"\*\*\*"\}\)/, secret);
  // From the environment: a Redis URL with a password, one bad sibling value.
  refusedAsConfigError(() => loadConfig({ env: { CHURNFLOW_REDIS_URL: `redis://default:${secret}@10.0.0.1:6379`, CHURNFLOW_STATE_KIND: 'mongo' } }), /state\.kind/, secret);
  // A file that does not parse: the parser's excerpt of the file is not quoted.
  const dir = mkdtempSync(join(tmpdir(), 'cf-config-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, `state:\n  redis:\n    url: redis://:${secret}@h:6379: [\n`);
  refusedAsConfigError(() => loadConfig({ file, env: {} }), /is not valid YAML\/JSON/, secret);
});

test('state.redis.cluster: nodes as host:port with WAIT defaults; a bad node or key names its path; the connection follows', async () => {
  const { redisConnection } = await import('../../../src/config/redis-connection.js');
  const c = loadConfig({ env: {}, overrides: { state: { kind: 'redis', redis: { cluster: { nodes: ['10.0.0.1:6379', 'redis-b:6380'] } } } } });
  assert.deepEqual(c.state.redis.cluster, { nodes: ['10.0.0.1:6379', 'redis-b:6380'], waitReplicas: 1, waitTimeoutMs: 1000 });
  assert.deepEqual(redisConnection(c), { kind: 'cluster', clusterNodes: ['10.0.0.1:6379', 'redis-b:6380'], waitReplicas: 1, waitTimeoutMs: 1000, configKey: 'state.redis.cluster.nodes', options: {} });
  assert.deepEqual(redisConnection(loadConfig({ env: {} })), { kind: 'standalone', url: 'redis://127.0.0.1:6379', configKey: 'state.redis.url', options: {} });
  // TLS and credentials reach every node of a cluster.
  const secured = loadConfig({ env: {}, overrides: { state: { redis: { password: 'cluster-pa55', tls: { enabled: true }, cluster: { nodes: ['a:1'] } } } } });
  assert.deepEqual(redisConnection(secured).options, { tls: { rejectUnauthorized: true }, password: 'cluster-pa55' });
  invalid(() => loadConfig({ env: {}, overrides: { state: { redis: { cluster: { nodes: ['redis://10.0.0.1:6379'] } } } } }), /state\.redis\.cluster\.nodes\.0: host:port/);
  invalid(() => loadConfig({ env: {}, overrides: { state: { redis: { cluster: { nodes: [] } } } } }), /state\.redis\.cluster\.nodes/);
  invalid(() => loadConfig({ env: {}, overrides: { state: { redis: { cluster: { nodes: ['a:1'], waitReplicas: -1 } } } } }), /state\.redis\.cluster\.waitReplicas/);
  invalid(() => loadConfig({ env: {}, overrides: { state: { redis: { cluster: { nodes: ['a:1'], replicas: 1 } } } } }), /state\.redis\.cluster\.replicas: unknown key/);
});

test('engine.risk: each margin takes exactly one unit; the emit policy follows the config', () => {
  invalid(() => loadConfig({ env: {}, overrides: { engine: { risk: { hysteresis: { logOdds: 1, score: 0.1 } } } } }), /engine\.risk\.hysteresis: set exactly one of logOdds \(0–10\) or score \(0–1\)/);
  invalid(() => loadConfig({ env: {}, overrides: { engine: { risk: { largeMove: {} } } } }), /engine\.risk\.largeMove: set exactly one of logOdds/);
  invalid(() => loadConfig({ env: {}, overrides: { engine: { risk: { cooldownMs: -1 } } } }), /engine\.risk\.cooldownMs/);
  invalid(() => loadConfig({ env: {}, overrides: { engine: { risk: { minScoreDelta: 0.02 } } } }), /engine\.risk\.minScoreDelta: unknown key \(allowed under engine\.risk: emit, hysteresis, largeMove, cooldownMs\)/);
  const c = loadConfig({ env: {}, overrides: { engine: { risk: { hysteresis: { score: 0.01 }, largeMove: null, cooldownMs: 0 } } } });
  assert.deepEqual(emitPolicy(c.engine.risk), { emit: 'change', hysteresis: { score: 0.01 }, cooldownMs: 0 });
  assert.deepEqual(emitPolicy(loadConfig({ env: {} }).engine.risk), { emit: 'change', hysteresis: { logOdds: 1.2 }, largeMove: { logOdds: 1.5 }, cooldownMs: 30 * 86_400_000 });
});

test('validation.minEventTime: an ISO date or epoch ms; anything else names the key', () => {
  assert.equal(loadConfig({ env: {} }).validation.minEventTime, Date.UTC(2000, 0, 1));
  assert.equal(loadConfig({ env: {}, overrides: { validation: { minEventTime: '1997-01-01' } } }).validation.minEventTime, Date.UTC(1997, 0, 1));
  assert.equal(loadConfig({ env: {}, overrides: { validation: { minEventTime: 0 } } }).validation.minEventTime, 0);
  invalid(() => loadConfig({ env: {}, overrides: { validation: { minEventTime: 'last tuesday' } } }), /validation\.minEventTime: an ISO date\/time or epoch ms/);
});
