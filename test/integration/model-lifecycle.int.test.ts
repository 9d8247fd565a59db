// The model lifecycle against the real services: `churnflow run` engines reading the production alias
// from Redis while `churnflow model promote | rollback` moves it, shadow scoring to its own topic, and
// an automatic rollback written to Redis and the drift topic.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { configSchema } from '../../src/config/config-schema.js';
import type { DriftMetricRecord, RiskEventRecord } from '../../src/events/wire-types.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { ModelRegistry } from '../../src/registry/model-registry.js';
import { RedisAliasStore } from '../../src/registry/redis-alias-store.js';
import { ActivityCodec } from '../../src/serde/activity-codec.js';
import { RegistryClient } from '../../src/serde/registry-client.js';
import { activityEventEncoder } from '../../src/serde/registry-encoder.js';
import { produceActivity } from '../../src/sinks/activity-producer.js';
import { KafkaProducerPool } from '../../src/sinks/kafka-sink.js';
import { resolveSimulatorOptions, simulate, type SimulatedRecord, type SimulatorOptions } from '../../src/simulator/index.js';
import { committedCount, startEngine, stopEngine, stopWhenCaughtUp, writeConfig, type EngineProcess } from '../helpers/engine-process.js';
import { readAvroTopic, testTopics, type TestTopics } from '../helpers/kafka.js';
import { SERVICES, uniqueName } from '../helpers/services.js';
import { tempRegistry } from '../helpers/registry.js';

const run = promisify(execFile);
const opened: ModelRegistry[] = [];
// Each setup holds a Redis connection: close them, or the test process never exits.
after(async () => {
  for (const r of opened) await r.close();
});
const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
const gate = { spec, policy: configSchema.parse({}).model.promotion };

interface Setup {
  readonly root: string;
  readonly keyPrefix: string;
  readonly registry: ModelRegistry;
  readonly topics: TestTopics;
  readonly groupId: string;
  readonly records: SimulatedRecord[];
  config(extra?: Record<string, unknown>): string;
  cli(...args: string[]): Promise<string>;
  /** Produces the records setup held back (`holdBack`); nothing when it held none. */
  produceRest(): Promise<void>;
}

/**
 * A registry (1.0.0 → 1.1.0 in production, 1.2.0 as candidate) with its aliases in Redis, and a produced
 * stream; with `holdBack`, that share of the records (the last ones) is produced by produceRest().
 */
async function setup(sim: Partial<SimulatorOptions> | null, holdBack = 0): Promise<Setup> {
  const root = tempRegistry(['1.0.0', '1.1.0', '1.2.0']);
  const keyPrefix = `${uniqueName('lc')}:`;
  const registry = new ModelRegistry({ root, aliases: new RedisAliasStore({ url: SERVICES.redisUrl, keyPrefix }) });
  opened.push(registry);
  await registry.promote('churn-gbdt', '1.0.0', { reason: 'first', actor: 'test', gate });
  await registry.promote('churn-gbdt', '1.1.0', { reason: 'second', actor: 'test', gate });
  await registry.promote('churn-gbdt', '1.2.0', { alias: 'candidate', reason: 'candidate', actor: 'test', gate });
  const topics = await testTopics(3);
  const records = sim ? [...simulate(resolveSimulatorOptions(sim))] : [];
  const produce = async (part: readonly SimulatedRecord[]) => {
    if (part.length === 0) return;
    const pool = new KafkaProducerPool({ brokers: SERVICES.kafkaBrokers, clientId: 'cf-test-producer' });
    const reg = new RegistryClient({ url: SERVICES.schemaRegistryUrl });
    const codec = new ActivityCodec();
    await produceActivity(part, { pool, topic: topics.activity, format: 'confluent-avro', encoder: activityEventEncoder({ registry: reg, topic: topics.activity, autoRegister: true }, codec), codec });
    await pool.close();
    await reg.close();
  };
  const first = Math.round(records.length * (1 - holdBack));
  await produce(records.slice(0, first));
  const groupId = uniqueName('cf-lc-group');
  const base = {
    source: { kind: 'kafka' },
    kafka: { groupId, topics: { activity: [topics.activity], risk: topics.risk, deadLetter: topics.deadLetter, drift: topics.drift, shadow: `${topics.risk}-shadow` }, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
    // Commits trail processing by up to the write-behind delay (every changed customer's state waits,
    // decided ones too), and these tests place a promote by committed offsets: a short delay keeps
    // "40 % committed" mid-stream, as in the fault tests.
    state: { kind: 'redis', redis: { keyPrefix, url: SERVICES.redisUrl, cache: { writeBehindMs: 500 } } },
    engine: { batch: { maxSize: 64, maxWaitMs: 20 }, maxInFlight: 256, risk: { emit: 'every' } },
    model: { registry: { dir: root, aliasStore: 'redis', pollIntervalMs: 200 } },
    http: { port: 0 },
    log: { level: 'info' },
  };
  const configFor = (extra: Record<string, unknown> = {}) => writeConfig(merge(base, extra));
  const cliConfig = configFor();
  return {
    root,
    keyPrefix,
    registry,
    topics,
    groupId,
    records,
    config: configFor,
    produceRest: () => produce(records.slice(first)),
    cli: async (...args) => (await run(process.execPath, ['bin/churnflow.js', 'model', ...args, '--config', cliConfig, '--actor', 'it-test'], { env: { ...process.env, CHURNFLOW_REDIS_URL: SERVICES.redisUrl } })).stdout,
  };
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' ? merge(prev as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

const acceptedEvents = (records: readonly SimulatedRecord[]) => records.flatMap((r) => (r.type === 'event' ? [r.event.event_id] : []));

async function finish(s: Setup, engines: EngineProcess[]): Promise<void> {
  await stopWhenCaughtUp(s.groupId, s.topics.activity, engines);
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, engines: EngineProcess[], timeoutMs = 60_000): Promise<void> {
  const started = Date.now();
  while (!(await ok())) {
    if (engines.every((e) => e.child.exitCode !== null)) throw new Error(`engines exited while waiting for ${what}: ${engines.map((e) => e.logs().slice(-1500)).join('\n')}`);
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}: ${engines.map((e) => e.logs().slice(-1500)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('hot swap: `model promote` while the engine runs; it switches within seconds, every event scored once, by one model or the other', async (t) => {
  // Half the stream before the promote, half after the swap: an engine that is through the first half
  // before the new model is loaded (it was, once, with everything produced up front) still scores the
  // second half with it.
  const s = await setup({ customers: 200, days: 60, seed: 51 }, 0.5);
  const expected = acceptedEvents(s.records);
  const engine = startEngine(s.config());
  await waitFor('40 % of the stream', async () => (await committedCount(s.groupId, s.topics.activity)) >= 0.4 * s.records.length, [engine]);
  const promotedAt = Date.now();
  const out = await s.cli('promote', 'churn-gbdt', '1.2.0', '--reason', 'it: promote mid-stream');
  assert.match(out, /promoted churn-gbdt@1\.2\.0 to production/);
  await waitFor('the swap', () => /"to":"1\.2\.0".*"msg":"model swapped"/.test(engine.logs()), [engine]);
  t.diagnostic(`swap logged ${Date.now() - promotedAt} ms after the promote returned (poll interval 200 ms)`);
  await s.produceRest();
  await finish(s, [engine]);

  const risk = await readAvroTopic<RiskEventRecord>(s.topics.risk, { idleMs: 3000 });
  const triggers = risk.map((r) => r.value.trigger_event_id);
  assert.equal(new Set(triggers).size, triggers.length, 'no event scored twice (emit every: one risk event per scored event)');
  const seen = new Set(triggers);
  const dropped = expected.filter((id) => !seen.has(id));
  // Invalid simulated events are dead-lettered, not scored; everything the engine accepted is scored.
  assert.ok(dropped.length < 0.01 * expected.length, `${dropped.length} of ${expected.length} events without a risk event`);
  const versions = new Set(risk.map((r) => r.value.model_version));
  assert.deepEqual([...versions].sort(), ['1.1.0', '1.2.0']);
  // per partition (per customer key), in offset order: one switch and never back
  for (const p of new Set(risk.map((r) => r.partition))) {
    const seq = risk.filter((r) => r.partition === p).map((r) => r.value.model_version);
    const at = seq.indexOf('1.2.0');
    assert.ok(at < 0 || seq.slice(at).every((v) => v === '1.2.0'), `partition ${p} switched back`);
  }
});

test('every instance follows the alias: two engines of one group both switch on a `model rollback`', async () => {
  const s = await setup(null);
  const engines = [startEngine(s.config()), startEngine(s.config())];
  try {
    await waitFor('both engines running', () => engines.every((e) => /"msg":"churnflow running"/.test(e.logs())), engines);
    await s.cli('rollback', 'churn-gbdt', '--reason', 'it: rollback with two instances');
    await waitFor('both swaps', () => engines.every((e) => /"from":"1\.1\.0","to":"1\.0\.0".*"msg":"model swapped"/.test(e.logs())), engines);
    const state = await s.registry.aliases('churn-gbdt');
    assert.equal(state.aliases.production, '1.0.0');
    assert.equal(state.history.at(-1)?.action, 'rollback');
  } finally {
    for (const e of engines) if (e.child.exitCode === null) await stopEngine(e).catch(() => e.child.kill('SIGKILL'));
  }
});

test('shadow: the candidate scores beside production to its own topic; the risk topic only carries production', async () => {
  const s = await setup({ customers: 120, days: 40, seed: 52 });
  const engine = startEngine(s.config({ model: { shadow: { enabled: true } }, engine: { risk: { emit: 'change' } } }));
  await finish(s, [engine]);
  const risk = await readAvroTopic<RiskEventRecord>(s.topics.risk, { idleMs: 3000 });
  const shadow = await readAvroTopic<RiskEventRecord>(`${s.topics.risk}-shadow`, { idleMs: 3000 });
  assert.ok(risk.length > 100 && risk.every((r) => r.value.model_version === '1.1.0'));
  assert.ok(shadow.length > 100 && shadow.every((r) => r.value.model_version === '1.2.0' && r.key === r.value.customer_id));
});

test('automatic rollback: scores far from the reference move the Redis alias back and leave a record on the drift topic', async () => {
  const s = await setup({ customers: 150, days: 40, seed: 53 });
  const engine = startEngine(s.config({ model: { rollback: { enabled: true, minScores: 500, maxScorePsi: 0.001 } } }));
  await finish(s, [engine]);
  const state = await s.registry.aliases('churn-gbdt');
  assert.equal(state.aliases.production, '1.0.0');
  assert.match(state.history.at(-1)!.reason, /^automatic: score_psi /);
  const drift = await readAvroTopic<DriftMetricRecord>(s.topics.drift, { idleMs: 3000 });
  assert.deepEqual(drift.map((d) => [d.key, d.value.statistic, d.value.model_version]), [['model_rollback', 'score_psi', '1.1.0']]);
  const risk = await readAvroTopic<RiskEventRecord>(s.topics.risk, { idleMs: 3000 });
  assert.ok(risk.some((r) => r.value.model_version === '1.0.0'), 'later events scored by the version rolled back to');
});

