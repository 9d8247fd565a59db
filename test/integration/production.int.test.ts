// Production mode against the real services: Kafka (KRaft), the Schema Registry (Apicurio, Confluent
// API) and Redis, with `churnflow run` as a child process. Reference answers come from the embedded
// replay of the same events (memory store, same topology).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import type { DeadLetterRecord, DriftMetricRecord, RiskEventRecord } from '../../src/events/wire-types.js';
import { DriftMonitor } from '../../src/monitoring/drift-monitor.js';
import { createFileSink } from '../../src/sinks/file-sink.js';
import { loadScoringModel } from '../../src/scoring/scoring-model.js';
import type { ProducedCounts } from '../../src/sinks/activity-producer.js';
import { recordToNdjson, resolveSimulatorOptions, simulate, simulationEndTime, type SimulatedRecord, type SimulatorOptions } from '../../src/simulator/index.js';
import { createFileSource } from '../../src/sources/file-source.js';
import type { CustomerState } from '../../src/state/customer-state.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import { fixedClock } from '../../src/time/clock.js';
import { committedCount, startEngine, stopEngine, stopWhenCaughtUp, writeConfig, type EngineProcess } from '../helpers/engine-process.js';
import { produceSimulated, readAvroTopic, testTopics, type TestTopics } from '../helpers/kafka.js';
import { ENGINE_DECISION, readNdjson, runScoring } from '../helpers/run-scoring.js';
import { SERVICES, uniqueName } from '../helpers/services.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });

interface Scenario {
  topics: TestTopics;
  groupId: string;
  keyPrefix: string;
  records: SimulatedRecord[];
  produced: ProducedCounts;
  config: string;
}

async function scenario(sim: Partial<SimulatorOptions>, opts: { partitions?: number; batch?: number; monitoring?: Record<string, unknown> } = {}): Promise<Scenario> {
  const topics = await testTopics(opts.partitions ?? 3);
  const options = resolveSimulatorOptions(sim);
  const records = [...simulate(options)];
  const produced = await produceSimulated(topics.activity, records);
  const groupId = uniqueName('cf-group');
  const keyPrefix = `${uniqueName('t')}:`;
  const config = writeConfig({
    source: { kind: 'kafka' },
    kafka: { groupId, topics: { activity: [topics.activity], risk: topics.risk, deadLetter: topics.deadLetter, drift: topics.drift }, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
    // Write-behind at 500 ms (shipped: 10 s): the kills and stops here are placed by committed offsets,
    // which trail processing by up to the delay (test/faults/fault-run.ts says the same).
    state: { kind: 'redis', redis: { keyPrefix, cache: { writeBehindMs: 500 } } },
    engine: { batch: { maxSize: opts.batch ?? 128, maxWaitMs: 20 }, maxInFlight: 4 * (opts.batch ?? 128) },
    http: { port: 0 },
    log: { level: 'info' },
    ...(opts.monitoring ? { monitoring: opts.monitoring } : {}),
  });
  return { topics, groupId, keyPrefix, records, produced, config };
}

/** The embedded replay of the same records: its risk events and final states are the reference. */
async function replay(records: readonly SimulatedRecord[], now: number) {
  const dir = mkdtempSync(join(tmpdir(), 'cf-replay-'));
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, records.map(recordToNdjson).join('\n') + '\n');
  // The engine's default config explains risk events above the threshold: so does the reference.
  const model = await loadScoringModel(BUNDLED_MODEL, spec, { explain: true });
  const store = new MemoryStateStore({ layout: spec.layout });
  const run = await runScoring(createFileSource(file, fixedClock(now)), store, spec, model, now, { decision: ENGINE_DECISION });
  await model.close();
  const customers = [...new Set(records.flatMap((r) => (r.type === 'event' ? [r.event.customer_id] : [])))].sort();
  return { risk: run.risk, store, customers };
}

async function redisStates(keyPrefix: string, customers: readonly string[]) {
  const store = new RedisStateStore({ url: SERVICES.redisUrl, keyPrefix, layout: spec.layout });
  try {
    return await store.get(customers);
  } finally {
    await store.close();
  }
}

// Plain JSON: Avro decoding yields record class instances (RiskReason), the replay plain objects.
const noProcessingTime = (r: RiskEventRecord): RiskEventRecord => JSON.parse(JSON.stringify({ ...r, processing_time: 0 })) as RiskEventRecord;
/**
 * States compare without source positions and outbox keys (Kafka partitions vs the replay file; the
 * outbox is trimmed as commits are confirmed). The last emitted score is stored with the state change
 * that emitted it, so it matches even after crashes.
 */
const comparable = (states: readonly (CustomerState | null)[]) => states.map((st) => st && { ...st, positions: {}, outbox: {} });

/** Runs engines until the group caught up, then stops them; a failing run never leaves an engine behind. */
async function runToEnd(s: Scenario, engines: EngineProcess[] = [startEngine(s.config)]): Promise<void> {
  await stopWhenCaughtUp(s.groupId, s.topics.activity, engines);
}

async function waitForProgress(s: Scenario, records: number, ...engines: EngineProcess[]): Promise<void> {
  const started = Date.now();
  while ((await committedCount(s.groupId, s.topics.activity)) < records) {
    if (engines.every((e) => e.child.exitCode !== null)) throw new Error(`engines exited: ${engines.map((e) => e.logs().slice(-1500)).join('\n')}`);
    if (Date.now() - started > 120_000) throw new Error(`no progress to ${records} records: ${engines.map((e) => e.logs().slice(-1500)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('end to end: Kafka → run (Redis) → risk topic equals the embedded replay (features, scores, ids) and state matches', async () => {
  const sim = { customers: 120, days: 40, seed: 31 };
  const s = await scenario(sim);
  const ref = await replay(s.records, simulationEndTime(resolveSimulatorOptions(sim)));
  const engine = startEngine(s.config);
  await runToEnd(s, [engine]);

  const risk = await readAvroTopic<RiskEventRecord>(s.topics.risk, { expect: ref.risk.length, idleMs: 3000 });
  assert.equal(risk.length, ref.risk.length, 'one risk event per expected one (no crash, no duplicates)');
  const byId = new Map(risk.map((r) => [r.value.event_id, noProcessingTime(r.value)]));
  for (const expected of ref.risk) assert.deepEqual(byId.get(expected.event_id), noProcessingTime(expected));
  for (const r of risk) assert.equal(r.key, r.value.customer_id, 'risk events are keyed by customer');

  const states = await redisStates(s.keyPrefix, ref.customers);
  assert.deepEqual(comparable(states), comparable(await ref.store.get(ref.customers)));
});

test('monitoring on: drift and performance records reach the drift topic as registry Avro, keyed by subject, with the embedded run\'s windows and statistics', async () => {
  const sim = { customers: 150, days: 45, seed: 35 };
  const options = { minSamples: 20, horizonDays: 30 };
  // One partition: the watermark (and so each midnight sample) advances exactly as in the single-file replay.
  const s = await scenario(sim, { partitions: 1, monitoring: { enabled: true, options } });
  const now = simulationEndTime(resolveSimulatorOptions(sim));
  const dir = mkdtempSync(join(tmpdir(), 'cf-drift-'));
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, s.records.map(recordToNdjson).join('\n') + '\n');
  const model = await loadScoringModel(BUNDLED_MODEL, spec);
  const sink = createFileSink<DriftMetricRecord>(join(dir, 'drift.ndjson'), 'drift-metric');
  const monitor = new DriftMonitor(spec.columns, model.manifest, options);
  await runScoring(createFileSource(file, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, model, now, {}, { drift: { monitor, sink, sampleRate: 1 } });
  await sink.close();
  await model.close();
  const expected = readNdjson<DriftMetricRecord>(join(dir, 'drift.ndjson'));
  assert.ok(expected.length > 100, `embedded drift records: ${expected.length}`);

  await runToEnd(s);
  const got = await readAvroTopic<DriftMetricRecord>(s.topics.drift, { idleMs: 3000 });
  for (const r of got) assert.equal(r.key, r.value.subject, 'drift records are keyed by subject');
  // The same records as the embedded run: ids, windows, values. Observation samples follow the
  // applied events, not the source's watermark, so batching cannot change them.
  const byId = new Map(got.map((r) => [r.value.metric_id, r.value]));
  const missing = expected.filter((e) => !byId.has(e.metric_id));
  assert.deepEqual(missing.map((m) => `${m.subject}/${m.statistic}@${new Date(m.window_end).toISOString()}`), [], `${missing.length} of ${expected.length} missing`);
  for (const e of expected) assert.deepEqual({ ...byId.get(e.metric_id) }, e);
  assert.equal(byId.size, expected.length, 'and nothing else');
  for (const statistic of ['recall', 'precision', 'pr_auc']) assert.ok(got.some((g) => g.value.subject === 'performance' && g.value.statistic === statistic), `performance ${statistic} on the drift topic`);
  assert.ok(got.some((r) => r.value.subject === 'score') && got.some((r) => r.value.statistic === 'ks'));
});

test('crash: kill -9 mid-stream three times; final state equals the replay and every expected risk event exists', async () => {
  const sim = { customers: 250, days: 60, seed: 32 };
  const s = await scenario(sim, { batch: 32 });
  const ref = await replay(s.records, simulationEndTime(resolveSimulatorOptions(sim)));
  const total = s.produced.events;
  let kills = 0;
  for (const share of [0.2, 0.45, 0.7]) {
    const engine = startEngine(s.config);
    try {
      await waitForProgress(s, share * total, engine);
    } finally {
      engine.child.kill('SIGKILL');
      await engine.exited;
    }
    kills++;
  }
  assert.equal(kills, 3);
  await runToEnd(s);

  const states = await redisStates(s.keyPrefix, ref.customers);
  assert.deepEqual(comparable(states), comparable(await ref.store.get(ref.customers)), 'nothing lost, nothing counted twice');
  assertSameRiskEvents(await readAvroTopic<RiskEventRecord>(s.topics.risk, { idleMs: 3000 }), ref.risk);
});

/**
 * The risk topic after faults holds exactly the reference's events: none missing, none extra, each
 * equal to the reference but for processing_time (wall clock), and every redelivered copy identical to
 * the first, processing_time included (a redelivery re-emits the stored decision, it never recomputes).
 */
function assertSameRiskEvents(got: readonly { value: RiskEventRecord }[], expected: readonly RiskEventRecord[]): void {
  const copies = new Map<string, string[]>();
  for (const r of got) copies.set(r.value.event_id, [...(copies.get(r.value.event_id) ?? []), JSON.stringify(r.value)]);
  const want = new Map(expected.map((r) => [r.event_id, JSON.stringify(noProcessingTime(r))]));
  const missing = [...want.keys()].filter((id) => !copies.has(id));
  const extra = [...copies.keys()].filter((id) => !want.has(id));
  const different = [...copies].filter(([id, c]) => want.has(id) && (new Set(c).size > 1 || JSON.stringify(noProcessingTime(JSON.parse(c[0]!) as RiskEventRecord)) !== want.get(id)));
  assert.deepEqual({ missing: missing.length, extra: extra.length, different: different.length }, { missing: 0, extra: 0, different: 0 }, `e.g. ${JSON.stringify({ missing: missing[0], extra: extra[0], different: different[0] })}`);
}

test('two instances share the partitions; one stops mid-way; no double counting', async () => {
  const sim = { customers: 200, days: 50, seed: 33 };
  const s = await scenario(sim, { partitions: 4, batch: 32 });
  const ref = await replay(s.records, simulationEndTime(resolveSimulatorOptions(sim)));
  const a = startEngine(s.config);
  const b = startEngine(s.config);
  try {
    await waitForProgress(s, 0.4 * s.produced.events, a, b);
    assert.equal(await stopEngine(a), 0, a.logs().slice(-2000));
    await runToEnd(s, [b]);
  } finally {
    for (const e of [a, b]) e.child.kill('SIGKILL');
  }
  assert.match(a.logs() + b.logs(), /joined consumer group/);
  const states = await redisStates(s.keyPrefix, ref.customers);
  assert.deepEqual(comparable(states), comparable(await ref.store.get(ref.customers)));
  assertSameRiskEvents(await readAvroTopic<RiskEventRecord>(s.topics.risk, { idleMs: 3000 }), ref.risk);
});

test('bad input: every corrupt or invalid record lands in the dead-letter topic with its reason and headers; consumption goes on', async () => {
  const s = await scenario({ customers: 80, days: 30, seed: 34, badRecords: { rate: 0.03 } });
  await runToEnd(s);
  const dead = await readAvroTopic<DeadLetterRecord>(s.topics.deadLetter, { idleMs: 3000 });
  const reasons = new Map<string, number>();
  for (const d of dead) reasons.set(d.value.reason_code, (reasons.get(d.value.reason_code) ?? 0) + 1);
  const c = s.produced.corrupt;
  assert.equal(reasons.get('BAD_MAGIC_BYTE') ?? 0, c.not_avro);
  assert.equal(reasons.get('UNKNOWN_SCHEMA_ID') ?? 0, c.unknown_schema_id);
  assert.equal((reasons.get('TRUNCATED') ?? 0) + (reasons.get('DECODE_AVRO') ?? 0), c.truncated + c.garbage_body);
  const semantic = dead.length - c.not_avro - c.unknown_schema_id - c.truncated - c.garbage_body;
  assert.equal(semantic, s.produced.invalid, `records with invalid values dead-lettered: ${JSON.stringify(Object.fromEntries(reasons))}`);
  for (const d of dead) {
    assert.equal(d.headers['churnflow-reason'], d.value.reason_code);
    assert.equal(d.headers['churnflow-source-topic'], s.topics.activity);
    assert.ok(d.headers['churnflow-source-partition'] !== undefined && d.headers['churnflow-source-offset'] !== undefined);
    assert.ok(d.value.payload.length > 0, 'original bytes kept');
  }
  const risk = await readAvroTopic<RiskEventRecord>(s.topics.risk, { idleMs: 2000 });
  assert.ok(risk.length > 100, 'good records around the bad ones were scored');
});

function services(...args: string[]): void {
  execFileSync('bash', ['scripts/services/services.sh', ...args], { stdio: 'ignore' });
}

/**
 * Runs the engine on the simulated events, applies `fault` once 30 % of them are committed, and checks
 * the run ends with the embedded replay's state and risk events.
 */
async function survivesFault(sim: Partial<SimulatorOptions>, fault: (s: Scenario) => Promise<void>): Promise<void> {
  const s = await scenario(sim, { batch: 32 });
  const ref = await replay(s.records, simulationEndTime(resolveSimulatorOptions(sim)));
  const engine = startEngine(s.config);
  try {
    await waitForProgress(s, 0.3 * s.produced.events, engine);
    await fault(s);
    await runToEnd(s, [engine]);
  } finally {
    engine.child.kill('SIGKILL');
  }
  const states = await redisStates(s.keyPrefix, ref.customers);
  assert.deepEqual(comparable(states), comparable(await ref.store.get(ref.customers)));
  assertSameRiskEvents(await readAvroTopic<RiskEventRecord>(s.topics.risk, { idleMs: 3000 }), ref.risk);
}

for (const svc of ['redis', 'kafka'] as const) {
  test(`${svc} restarted mid-stream: the engine recovers and finishes with correct state`, async () => {
    await survivesFault({ customers: 200, days: 60, seed: svc === 'redis' ? 35 : 36 }, async () => services('restart', svc));
  });
}

// Longer than the clients' own retry budgets (12 retries, ≈80 s). Seen in session 17: the batch the
// outage caught retried its produce inside eachBatch until the broker was back, without a rebalance.
test('kafka away for 100 s mid-stream: the engine waits it out; state and risk events as an uninterrupted run', { timeout: 600_000 }, async () => {
  await survivesFault({ customers: 1000, days: 60, seed: 38 }, async (s) => {
    const committedAtStop = await committedCount(s.groupId, s.topics.activity);
    // Checked before the stop: a failure here must not leave the broker down for the tests after it.
    assert.ok(committedAtStop < s.produced.events, `the outage comes mid-stream (${committedAtStop} of ${s.produced.events} committed)`);
    services('stop', 'kafka');
    await new Promise((r) => setTimeout(r, 100_000));
    services('start', 'kafka');
  });
});

test('score-all reads the Redis state the engine built and writes one score per customer to the risk topic', async () => {
  const sim = { customers: 60, days: 30, seed: 37 };
  const s = await scenario(sim);
  await runToEnd(s);
  const asOf = new Date(resolveSimulatorOptions(sim).startTime + 20 * 86_400_000).toISOString();
  execFileSync(process.execPath, ['bin/churnflow.js', 'score-all', '--as-of', asOf, '--config', s.config, '-o', 'kafka', '--chunk', '25'], {
    env: { ...process.env, CHURNFLOW_KAFKA_BROKERS: SERVICES.kafkaBrokers.join(','), CHURNFLOW_SCHEMA_REGISTRY_URL: SERVICES.schemaRegistryUrl, CHURNFLOW_REDIS_URL: SERVICES.redisUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const all = await readAvroTopic<RiskEventRecord>(s.topics.risk, { idleMs: 2000 });
  const batch = all.map((r) => r.value).filter((r) => r.trigger_event_id.startsWith('score-all@'));
  const customers = new Set(s.records.flatMap((r) => (r.type === 'event' && r.event.event_time < Date.parse(asOf) ? [r.event.customer_id] : [])));
  assert.equal(batch.length, customers.size, 'one score per customer with history before the as-of time');
  assert.ok(batch.every((r) => r.trigger_event_id === `score-all@${asOf}` && r.event_time === Date.parse(asOf)));
});
