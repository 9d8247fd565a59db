// The whole embedded path: simulator → decode → validate → event time → memory state → features →
// the bundled ONNX model → risk events and dead letters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { loadScoringModel, type ScoringModel } from '../../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../../src/simulator/index.js';
import { createSimulatorSource } from '../../src/sources/simulator-source.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { RecordSource } from '../../src/sources/record-source.js';
import { fixedClock } from '../../src/time/clock.js';
import { runScoring } from '../helpers/run-scoring.js';
import { join } from 'node:path';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
const sim = resolveSimulatorOptions({ customers: 200, days: 45, seed: 3, badRecords: { rate: 0.01 }, lateEvents: { rate: 0.01, maxDelayMs: 6 * 3_600_000 } });
const now = simulationEndTime(sim);
let model: ScoringModel;

test.before(async () => {
  model = await loadScoringModel(BUNDLED_MODEL, spec);
});
test.after(async () => {
  await model.close();
});

const stripProcessing = (r: { processing_time: number }) => ({ ...r, processing_time: 0 });

test('every record is accounted for: applied, dead-lettered with its reason, or late', async () => {
  const records = [...simulate(sim)];
  const bad = records.filter((r) => r.type === 'bad');
  assert.ok(bad.length > 40, `bad records injected: ${bad.length}`);
  const store = new MemoryStateStore({ layout: spec.layout });
  const run = await runScoring(createSimulatorSource(sim, fixedClock(now)), store, spec, model, now);

  const byPayload = new Map(run.deadLetters.map((d) => [Buffer.from(d.payload, 'base64').toString('utf8'), d]));
  for (const b of bad) {
    if (b.type !== 'bad') continue;
    const dl = byPayload.get(b.raw);
    assert.ok(dl, `bad record (${b.defect}) reached the dead-letter output`);
    assert.ok(dl.reason_code.length > 0 && dl.reason_detail.length > 0);
    const expected: Record<string, string[]> = {
      malformed_json: ['DECODE_JSON'],
      missing_field: ['MISSING_FIELD'],
      unknown_kind: ['UNKNOWN_KIND'],
      negative_duration: ['OUT_OF_RANGE'],
      absurd_amount: ['OUT_OF_RANGE'],
      future_time: ['FUTURE_TIME'],
      before_signup: ['BEFORE_SIGNUP', 'LATE_EVENT', 'OUT_OF_RANGE'],
      wrong_type: ['SCHEMA', 'MISSING_FIELD', 'DECODE_JSON'],
    };
    assert.ok(expected[b.defect]!.includes(dl.reason_code), `${b.defect} → ${dl.reason_code}`);
  }
  const late = run.deadLetters.filter((d) => d.route === 'late');
  assert.ok(late.length > 0, 'some simulated events arrived beyond the allowed lateness');
  const stats = await store.stats();
  assert.equal(stats.customers, new Set(records.flatMap((r) => (r.type === 'event' ? [r.event.customer_id] : []))).size);

  const ids = new Set(run.risk.map((r) => r.event_id));
  assert.equal(ids.size, run.risk.length, 'risk event ids are unique');
  for (const r of run.risk) {
    assert.ok(r.score >= 0 && r.score <= 1);
    assert.equal(r.model_version, model.manifest.version);
    assert.equal(r.above_threshold, r.score >= model.manifest.decision.threshold);
  }
  assert.ok(run.risk.some((r) => r.band === 'high') && run.risk.some((r) => r.band === 'low'));
});

test('risk events do not depend on how the stream was batched', async () => {
  const a = await runScoring(createSimulatorSource(sim, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, model, now, { batch: { maxSize: 7, maxWaitMs: 1 }, maxInFlight: 20 });
  const b = await runScoring(createSimulatorSource(sim, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, model, now, { batch: { maxSize: 1000, maxWaitMs: 50 }, maxInFlight: 4000 });
  assert.ok(a.batches > 5 * b.batches);
  assert.deepEqual(a.risk.map(stripProcessing), b.risk.map(stripProcessing));
  assert.deepEqual(a.deadLetters, b.deadLetters);
});

test('redelivery after a crash before the commit: state unchanged, every stored decision re-emitted byte for byte (not recomputed)', async () => {
  const store = new MemoryStateStore({ layout: spec.layout });
  // A source whose commits never get confirmed: as after a kill -9 right after the outputs were written.
  const uncommitted = (): RecordSource => {
    const src = createSimulatorSource(sim, fixedClock(now));
    return { ...src, records: (flow) => src.records(flow), commit: async () => new Set<string>() };
  };
  const first = await runScoring(uncommitted(), store, spec, model, now);
  const ids = ['c000001', 'c000050', 'c000150'];
  const before = await store.get(ids);
  // Another clock and other batch sizes: a recomputed decision would differ (processing_time at least).
  const again = await runScoring(uncommitted(), store, spec, model, now + 3_600_000, { batch: { maxSize: 13, maxWaitMs: 1 }, maxInFlight: 64 });
  assert.deepEqual(await store.get(ids), before, 'no state changed');
  assert.ok(first.risk.length > 0);
  assert.equal(again.scored.length, 0, 'nothing was scored again');
  assert.deepEqual(again.risk, first.risk, 'the same risk events, same order, same bytes (processing_time of the first run)');
  assert.deepEqual(again.deadLetters.filter((d) => d.reason_code === 'BEFORE_SIGNUP').map((d) => d.dead_letter_id), first.deadLetters.filter((d) => d.reason_code === 'BEFORE_SIGNUP').map((d) => d.dead_letter_id), 'refusals re-emitted too');
});

test('commits confirmed: outbox entries below the committed offsets are trimmed, so the outbox stays small', async () => {
  const store = new MemoryStateStore({ layout: spec.layout });
  const run = await runScoring(createSimulatorSource(sim, fixedClock(now)), store, spec, model, now, { batch: { maxSize: 64, maxWaitMs: 1 }, maxInFlight: 128 });
  let customers = 0;
  let entries = 0;
  for await (const page of store.scan()) {
    for (const st of page) {
      customers++;
      entries += Object.keys(st.outbox).length;
    }
  }
  // Only entries written after the customer's last confirmed commit survive: about a batch's worth per customer.
  assert.ok(entries < customers * 3, `${entries} outbox entries for ${customers} customers`);
  assert.ok(entries * 10 < run.risk.length, `${entries} outbox entries left of ${run.risk.length} decisions stored`);
});

test('a model trained on another feature spec is refused with a clear error', async () => {
  const other = compileSpec({ ...DEFAULT_CHURN_SPEC, features: DEFAULT_CHURN_SPEC.features.slice(1) });
  await assert.rejects(loadScoringModel(BUNDLED_MODEL, other), (e: Error & { code?: string }) => e.code === 'CF_MODEL_SPEC_MISMATCH' && /trained on feature spec sha256:/.test(e.message));
});

test('drift monitoring in the stream: same risk events as without it, and window statistics on the drift sink', async () => {
  const { DriftMonitor } = await import('../../src/monitoring/drift-monitor.js');
  const { createFileSink } = await import('../../src/sinks/file-sink.js');
  const { readNdjson } = await import('../helpers/run-scoring.js');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  type Drift = import('../../src/events/wire-types.js').DriftMetricRecord;
  const dir = mkdtempSync(join(tmpdir(), 'cf-drift-'));
  const driftSink = createFileSink<Drift>(join(dir, 'drift.ndjson'), 'drift-metric');
  const monitor = new DriftMonitor(spec.columns, model.manifest, { horizonDays: 30, minSamples: 20 });
  const plain = await runScoring(createSimulatorSource(sim, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, model, now);
  const monitored = await runScoring(createSimulatorSource(sim, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, model, now, {}, { drift: { monitor, sink: driftSink, sampleRate: 1 } });
  await driftSink.close();
  assert.deepEqual(monitored.risk.map(stripProcessing), plain.risk.map(stripProcessing));
  const drift = readNdjson<Drift>(join(dir, 'drift.ndjson'));
  assert.ok(drift.length > 50, `drift records: ${drift.length}`);
  const stats = new Set(drift.map((d) => d.statistic));
  for (const s of ['psi', 'ks']) assert.ok(stats.has(s), `statistic ${s} present`);
  assert.ok(drift.every((d) => d.model_version === model.manifest.version && d.window_end > d.window_start));
  assert.ok(drift.some((d) => d.subject === 'score'), 'prediction drift on the score');
});

test('drift monitoring does not depend on batching: batches of 7 and of 1000 give the same window records', async () => {
  const { DriftMonitor } = await import('../../src/monitoring/drift-monitor.js');
  type Drift = import('../../src/events/wire-types.js').DriftMetricRecord;
  const runWith = async (maxSize: number) => {
    const records: Drift[] = [];
    const sink = { name: 'memory', write: async (r: readonly Drift[]) => void records.push(...r), flush: async () => {}, close: async () => {} };
    const monitor = new DriftMonitor(spec.columns, model.manifest, { horizonDays: 30, minSamples: 20 });
    await runScoring(createSimulatorSource(sim, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, model, now, { batch: { maxSize, maxWaitMs: 1 }, maxInFlight: 4 * maxSize }, { drift: { monitor, sink, sampleRate: 1 } });
    return records;
  };
  const small = await runWith(7);
  const large = await runWith(1000);
  assert.ok(small.length > 50);
  // A midnight is sampled once the events applied (not merely read) have passed it. (Records of windows
  // closing in one advance may come out in another order.)
  const byId = (xs: Drift[]) => [...xs].sort((a, b) => a.metric_id.localeCompare(b.metric_id));
  assert.deepEqual(byId(small), byId(large));
});

test('a drift stage restarted mid-stream never reuses an id with other values (its partial windows get their own ids)', async () => {
  const { DriftMonitor } = await import('../../src/monitoring/drift-monitor.js');
  const { recordToNdjson } = await import('../../src/simulator/index.js');
  const { createFileSource } = await import('../../src/sources/file-source.js');
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  type Drift = import('../../src/events/wire-types.js').DriftMetricRecord;
  const dir = mkdtempSync(join(tmpdir(), 'cf-drift-restart-'));
  const lines = [...simulate(sim)].map(recordToNdjson);
  const half = Math.floor(lines.length / 2);
  const files = { all: join(dir, 'all.ndjson'), first: join(dir, 'first.ndjson'), second: join(dir, 'second.ndjson') };
  writeFileSync(files.all, `${lines.join('\n')}\n`);
  writeFileSync(files.first, `${lines.slice(0, half).join('\n')}\n`);
  writeFileSync(files.second, `${lines.slice(half).join('\n')}\n`);
  const drift = async (file: string, store: MemoryStateStore) => {
    const records: Drift[] = [];
    const sink = { name: 'memory', write: async (r: readonly Drift[]) => void records.push(...r), flush: async () => {}, close: async () => {} };
    const monitor = new DriftMonitor(spec.columns, model.manifest, { horizonDays: 30, minSamples: 20 });
    await runScoring(createFileSource(file, fixedClock(now)), store, spec, model, now, {}, { drift: { monitor, sink, sampleRate: 1 } });
    return records;
  };
  const uninterrupted = await drift(files.all, new MemoryStateStore({ layout: spec.layout }));
  // The "restart": the first half goes into the state without this monitor, which then sees only the second.
  const store = new MemoryStateStore({ layout: spec.layout });
  await runScoring(createFileSource(files.first, fixedClock(now)), store, spec, model, now);
  const restarted = await drift(files.second, store);
  assert.ok(uninterrupted.length > 50 && restarted.length > 10);
  const byId = new Map(uninterrupted.map((r) => [r.metric_id, JSON.stringify(r)]));
  const clashes = restarted.filter((r) => byId.has(r.metric_id) && byId.get(r.metric_id) !== JSON.stringify(r));
  assert.equal(clashes.length, 0, 'an id seen in both runs carries the same bytes');
  assert.ok(restarted.some((r) => !byId.has(r.metric_id)), "the restarted monitor's windows are told apart by their ids");
  // Without the scoping both runs name the same window's records alike although their values differ.
  const sameWindow = restarted.filter((r) => uninterrupted.some((u) => u.window_end === r.window_end && u.subject === r.subject && u.statistic === r.statistic && u.value !== r.value));
  assert.ok(sameWindow.length > 0, 'the restarted windows really hold other values');
});

test('emit rule on the simulator: every first crossing into the high band is published at the crossing score; ≤ 3 risk events per customer per 30 days', async () => {
  const sim90 = resolveSimulatorOptions({ customers: 300, days: 90, seed: 5 });
  const end = simulationEndTime(sim90);
  const run = await runScoring(createSimulatorSource(sim90, fixedClock(end)), new MemoryStateStore({ layout: spec.layout }), spec, model, end, { batch: { maxSize: 512, maxWaitMs: 20 }, maxInFlight: 2048 });
  const high = model.manifest.decision.bands.find((b) => b.name === 'high')!.min_score;
  const published = new Map(run.risk.map((e) => [`${e.customer_id}/${e.trigger_event_id}`, e]));
  // Every score of the run, in arrival order (run.scored): the first at or above the high edge per customer.
  const firstHigh = new Map<string, { eventId: string; score: number }>();
  for (const s of run.scored) if (s.score >= high && !firstHigh.has(s.customerId)) firstHigh.set(s.customerId, { eventId: s.eventId, score: s.score });
  assert.ok(firstHigh.size > 30, `enough customers cross into high (${firstHigh.size})`);
  for (const [customer, { eventId, score }] of firstHigh) {
    const e = published.get(`${customer}/${eventId}`);
    assert.ok(e, `${customer}: the first crossing into high (event ${eventId}) is published`);
    assert.equal(e.score, score);
    assert.equal(e.band, 'high');
    assert.notEqual(e.previous_band, 'high');
  }
  const times = run.risk.map((e) => e.event_time);
  const days = (Math.max(...times) - Math.min(...times)) / 86_400_000;
  const customers = new Set(run.scored.map((s) => s.customerId)).size;
  const perCustomerPer30Days = (run.risk.length / customers) * (30 / days);
  const everyPer30Days = (run.scored.length / customers) * (30 / days);
  console.log(`emit rule: ${run.risk.length} risk events of ${run.scored.length} scores, ${perCustomerPer30Days.toFixed(2)} per customer per 30 days (every score: ${everyPer30Days.toFixed(1)})`);
  assert.ok(perCustomerPer30Days <= 3, `${perCustomerPer30Days.toFixed(2)} risk events per customer per 30 days`);
});
