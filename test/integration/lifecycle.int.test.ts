// The engine's lifecycle and readiness against the real services, with `churnflow run` as a child
// process: a SIGTERM under load drains with the production model and commits exactly what it emitted;
// /readyz turns 503 when Redis goes away under load and 200 again when it is back; a job that cannot
// go on exits non-zero with its reason; wrong Redis credentials fail start-up as a config error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RiskEventRecord } from '../../src/events/wire-types.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { loadScoringModel } from '../../src/scoring/scoring-model.js';
import type { ProducedCounts } from '../../src/sinks/activity-producer.js';
import { recordToNdjson, resolveSimulatorOptions, simulate, simulationEndTime, type SimulatedRecord, type SimulatorOptions } from '../../src/simulator/index.js';
import { createFileSource } from '../../src/sources/file-source.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { fixedClock } from '../../src/time/clock.js';
import { committedCount, startEngine, stopEngine, stopWhenCaughtUp, writeConfig, type EngineProcess } from '../helpers/engine-process.js';
import { kafka, produceSimulated, readAvroTopic, testTopics, type TestTopics } from '../helpers/kafka.js';
import { ENGINE_DECISION, runScoring } from '../helpers/run-scoring.js';
import { SERVICES, uniqueName } from '../helpers/services.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });

interface Scenario {
  topics: TestTopics;
  groupId: string;
  records: SimulatedRecord[];
  produced: ProducedCounts;
  config: Record<string, unknown>;
}

async function scenario(sim: Partial<SimulatorOptions>, engine: Record<string, unknown> = {}, http: Record<string, unknown> = {}): Promise<Scenario> {
  const topics = await testTopics(3);
  const records = [...simulate(resolveSimulatorOptions(sim))];
  const produced = await produceSimulated(topics.activity, records);
  const groupId = uniqueName('cf-group');
  const config = {
    source: { kind: 'kafka' },
    kafka: { groupId, topics: { activity: [topics.activity], risk: topics.risk, deadLetter: topics.deadLetter, drift: topics.drift }, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 },
    // Write-behind at 300 ms, not the shipped 10 s: these scenarios stop the engine (or Redis) once a
    // share of the input is committed, and commits trail processing by up to the delay; at 10 s the
    // engine would be through the whole input before a third of it is committed. (The fault and fleet
    // tests run the shipped delay.)
    state: { kind: 'redis', redis: { keyPrefix: `${uniqueName('t')}:`, cache: { writeBehindMs: 300 } } },
    engine: { batch: { maxSize: 128, maxWaitMs: 20 }, ...engine },
    http: { port: 0, ...http },
    log: { level: 'info' },
  };
  return { topics, groupId, records, produced, config };
}

/** The embedded replay of the same records (memory store, bundled model): the reference risk events. */
async function reference(records: readonly SimulatedRecord[], sim: Partial<SimulatorOptions>): Promise<RiskEventRecord[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-replay-'));
  const file = join(dir, 'events.ndjson');
  writeFileSync(file, records.map(recordToNdjson).join('\n') + '\n');
  const now = simulationEndTime(resolveSimulatorOptions(sim));
  const model = await loadScoringModel(BUNDLED_MODEL, spec, { explain: true });
  try {
    return (await runScoring(createFileSource(file, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, model, now, { decision: ENGINE_DECISION })).risk;
  } finally {
    await model.close();
  }
}

const plain = (r: RiskEventRecord): RiskEventRecord => JSON.parse(JSON.stringify({ ...r, processing_time: 0 })) as RiskEventRecord;

async function waitFor(what: string, cond: () => Promise<boolean> | boolean, engine: EngineProcess, timeoutMs = 120_000): Promise<void> {
  const started = Date.now();
  // A condition that throws (e.g. the group coordinator still loading) counts as not yet.
  while (!(await Promise.resolve().then(cond).catch(() => false))) {
    if (engine.child.exitCode !== null) throw new Error(`engine exited (${engine.child.exitCode}) while waiting for ${what}:\n${engine.logs().slice(-3000)}`);
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}:\n${engine.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The HTTP address the engine logged at start ("churnflow running", http: …). */
async function httpUrl(engine: EngineProcess): Promise<string> {
  let url: string | undefined;
  await waitFor('the engine to log its HTTP address', () => (url = /"http":"(http:\/\/[^"]+)"/.exec(engine.logs())?.[1]) !== undefined, engine);
  return url!;
}

async function probe(url: string): Promise<{ status: number; body: Record<string, unknown> } | { status: 'error'; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  } catch (err) {
    return { status: 'error', body: String(err) };
  }
}

function services(...args: string[]): void {
  execFileSync('bash', ['scripts/services/services.sh', ...args], { stdio: 'ignore' });
}

test('SIGTERM under load: the drain is scored by the production model and the committed offsets cover exactly the emitted risk events', async () => {
  const sim = { customers: 400, days: 60, seed: 41 };
  // The default in-flight bound (2,048 records): that many are mid-pipeline when the signal lands.
  const s = await scenario(sim, { maxInFlight: 2048 });
  const expected = await reference(s.records, sim);
  const engine = startEngine(writeConfig(s.config));
  try {
    await waitFor('30 % committed', async () => (await committedCount(s.groupId, s.topics.activity)) >= 0.3 * s.produced.events, engine);
    assert.equal(await stopEngine(engine), 0, engine.logs().slice(-3000));
  } finally {
    if (engine.child.exitCode === null) engine.child.kill('SIGKILL');
  }

  const admin = kafka.admin();
  await admin.connect();
  const committed = new Map(((await admin.fetchOffsets({ groupId: s.groupId, topics: [s.topics.activity] }))[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  await admin.disconnect();
  const activity = await readAvroTopic<{ event_id: string }>(s.topics.activity, { expect: s.produced.events + s.produced.invalid });
  const inCommitted = new Set(activity.filter((m) => m.offset < (committed.get(m.partition) ?? 0)).map((m) => m.value.event_id));
  assert.ok(inCommitted.size > 0.3 * s.produced.events && inCommitted.size < s.produced.events, `stopped mid-stream: ${inCommitted.size} of ${s.produced.events} committed`);

  const risk = (await readAvroTopic<RiskEventRecord>(s.topics.risk, { idleMs: 3000 })).map((r) => r.value);
  const fallback = risk.filter((r) => r.scorer !== 'model');
  assert.equal(fallback.length, 0, `risk events not scored by the production model: ${fallback.length} (e.g. ${JSON.stringify(fallback[0])})`);
  // Exactly the committed prefix: each emitted event's trigger is committed, each committed trigger's expected event is there, same bytes.
  const want = expected.filter((r) => inCommitted.has(r.trigger_event_id));
  const got = new Map(risk.map((r) => [r.event_id, r]));
  const beyond = risk.filter((r) => !inCommitted.has(r.trigger_event_id));
  assert.equal(beyond.length, 0, `risk events emitted for records whose offsets were not committed: ${beyond.length}`);
  const missing = want.filter((r) => !got.has(r.event_id));
  assert.equal(missing.length, 0, `expected risk events of committed records missing: ${missing.length} of ${want.length}`);
  for (const w of want) assert.deepEqual(plain(got.get(w.event_id)!), plain(w));
  assert.equal(got.size, want.length);
  assert.match(engine.logs(), /stopping: no new records, draining/);
});

test('a second SIGTERM during the drain forces exit 130; the next start redelivers what was not committed and finishes', async () => {
  const sim = { customers: 200, days: 60, seed: 45 };
  const s = await scenario(sim, { maxInFlight: 2048 });
  const engine = startEngine(writeConfig(s.config));
  try {
    await waitFor('10 % committed', async () => (await committedCount(s.groupId, s.topics.activity)) >= 0.1 * s.produced.events, engine);
    engine.child.kill('SIGTERM');
    await waitFor('the drain to begin', () => /stopping: no new records, draining/.test(engine.logs()), engine, 10_000);
    engine.child.kill('SIGTERM');
    assert.equal(await engine.exited, 130, engine.logs().slice(-2000));
    assert.match(engine.logs(), /second signal: forcing exit/);
  } finally {
    if (engine.child.exitCode === null) engine.child.kill('SIGKILL');
  }
  const committedAfterForce = await committedCount(s.groupId, s.topics.activity);
  assert.ok(committedAfterForce < s.produced.events, 'forced before the end');
  await stopWhenCaughtUp(s.groupId, s.topics.activity, [startEngine(writeConfig(s.config))]);
});

test('Redis stopped under load: /readyz turns 503 with its reason within stallAfterMs, /healthz keeps answering; back to 200 once Redis returns', async () => {
  const sim = { customers: 300, days: 60, seed: 43 };
  const stallAfterMs = 1500;
  const s = await scenario(sim, { batch: { maxSize: 32, maxWaitMs: 20 }, maxInFlight: 256 }, { readiness: { stallAfterMs } });
  const engine = startEngine(writeConfig(s.config));
  let redisDown = false;
  try {
    const url = await httpUrl(engine);
    await waitFor('20 % committed', async () => (await committedCount(s.groupId, s.topics.activity)) >= 0.2 * s.produced.events, engine);
    assert.equal((await probe(`${url}/readyz`)).status, 200);
    services('stop', 'redis');
    redisDown = true;
    const stoppedAt = Date.now();
    let unready: { status: number | 'error'; body: unknown } | undefined;
    const health: (number | 'error')[] = [];
    while (!unready && Date.now() - stoppedAt < stallAfterMs + 8000) {
      const r = await probe(`${url}/readyz`);
      if (r.status === 503) unready = r;
      health.push((await probe(`${url}/healthz`)).status);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(unready, `readyz stayed ready with Redis down: ${engine.logs().slice(-2000)}`);
    const body = unready.body as { ready: boolean; lifecycle: string; reason: string };
    assert.equal(body.ready, false);
    assert.equal(body.lifecycle, 'RUNNING');
    assert.match(body.reason, /no batch acknowledged for \d+ ms \(limit http\.readiness\.stallAfterMs = 1500\)/);
    assert.ok(health.length > 0 && health.every((h) => h === 200), `healthz answered: ${health.join(',')}`);
    services('start', 'redis');
    redisDown = false;
    await waitFor('readyz 200 again', async () => (await probe(`${url}/readyz`)).status === 200, engine, 60_000);
    await stopWhenCaughtUp(s.groupId, s.topics.activity, [engine]);
  } finally {
    if (redisDown) services('start', 'redis');
    if (engine.child.exitCode === null) engine.child.kill('SIGKILL');
  }
});

test('a job that cannot go on (Redis gone for good) ends FAILED: readyz 503, exit non-zero with the reason logged', async () => {
  const sim = { customers: 200, days: 60, seed: 44 };
  const s = await scenario(sim, { batch: { maxSize: 32, maxWaitMs: 20 }, maxInFlight: 256 }, { readiness: { stallAfterMs: 1000 } });
  const engine = startEngine(writeConfig(s.config));
  let redisDown = false;
  try {
    const url = await httpUrl(engine);
    await waitFor('10 % committed', async () => (await committedCount(s.groupId, s.topics.activity)) >= 0.1 * s.produced.events, engine);
    services('stop', 'redis');
    redisDown = true;
    const readiness: (number | 'error')[] = [];
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`engine still alive 150 s after Redis went away (zombie):\n${engine.logs().slice(-3000)}`)), 150_000);
      const poll = setInterval(() => void probe(`${url}/readyz`).then((r) => readiness.push(r.status)), 250);
      void engine.exited.then((c) => {
        clearTimeout(timer);
        clearInterval(poll);
        resolve(c);
      });
    });
    assert.notEqual(code, 0, 'a failed job exits non-zero');
    assert.ok(code !== null && code > 0, `exit code ${code}`);
    assert.ok(readiness.includes(503) && !readiness.slice(readiness.indexOf(503)).includes(200), `readyz went 503 and stayed there: ${readiness.join(',')}`);
    const logs = engine.logs();
    assert.match(logs, /"msg":"churnflow run failed; exiting non-zero"/);
    assert.match(logs, /CF_STATE_UNAVAILABLE/);
  } finally {
    if (redisDown) services('start', 'redis');
    if (engine.child.exitCode === null) engine.child.kill('SIGKILL');
  }
});

test('Redis credentials are checked before ready: a wrong or missing password fails start-up as CF_CONFIG_INVALID naming state.redis.url, never the password', async () => {
  const port = 21391;
  const password = `pw-${uniqueName('s')}`;
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--requirepass', password, '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const topics = await testTopics(1);
    const config = writeConfig({
      source: { kind: 'kafka' },
      kafka: { groupId: uniqueName('cf-group'), topics: { activity: [topics.activity], risk: topics.risk, deadLetter: topics.deadLetter, drift: topics.drift } },
      // Write-behind at 300 ms, not the shipped 10 s: these scenarios stop the engine (or Redis) once a
    // share of the input is committed, and commits trail processing by up to the delay; at 10 s the
    // engine would be through the whole input before a third of it is committed. (The fault and fleet
    // tests run the shipped delay.)
    state: { kind: 'redis', redis: { keyPrefix: `${uniqueName('t')}:`, cache: { writeBehindMs: 300 } } },
      http: { port: 0 },
    });
    const wrong = `wrong-${password}`;
    for (const [url, problem] of [
      [`redis://default:${wrong}@127.0.0.1:${port}`, 'WRONGPASS'],
      [`redis://127.0.0.1:${port}`, 'NOAUTH'],
    ] as const) {
      const engine = startEngine(config, { CHURNFLOW_REDIS_URL: url });
      const code = await engine.exited;
      const logs = engine.logs();
      assert.equal(code, 2, logs);
      assert.match(logs, new RegExp(`CF_CONFIG_INVALID: state\\.redis\\.url: Redis at redis://[^ ]*127\\.0\\.0\\.1:${port} refused the credentials \\(${problem}\\)`));
      assert.ok(!logs.includes(wrong) && !logs.includes(password), `the password leaked:\n${logs}`);
      assert.doesNotMatch(logs, /churnflow running/, 'never reported ready');
    }
    // The right password passes the check: the engine runs, is ready, and stops cleanly.
    const engine = startEngine(config, { CHURNFLOW_REDIS_URL: `redis://default:${password}@127.0.0.1:${port}` });
    try {
      const url = await httpUrl(engine);
      await waitFor('readyz 200', async () => (await probe(`${url}/readyz`)).status === 200, engine);
      assert.equal(await stopEngine(engine), 0, engine.logs().slice(-2000));
      assert.ok(!engine.logs().includes(password), 'the password never reaches a log line');
    } finally {
      if (engine.child.exitCode === null) engine.child.kill('SIGKILL');
    }
  } finally {
    redis.kill('SIGTERM');
  }
});
