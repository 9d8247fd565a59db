// Reasons on risk events: only events that are published are explained (after the emit decision), all
// of a batch's at once per scorer through reasonsMany, and each event gets its own row's reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideBatch } from '../../../src/operators/decide-risk.js';
import type { ScoredBatch, ScoringStep } from '../../../src/operators/batch.js';
import type { FeatureReason } from '../../../src/scoring/explain/explainer.js';
import type { ModelManifest } from '../../../src/scoring/manifest.js';
import { manifestRef, type ScoringRef } from '../../../src/scoring/scoring-ref.js';
import type { EmitPolicy } from '../../../src/scoring/emit-rule.js';
import { fixedClock } from '../../../src/time/clock.js';
import { ev, raw } from '../../helpers/events.js';

const bands = [{ name: 'low', min_score: 0 }, { name: 'high', min_score: 0.3 }];
const manifest = { name: 'm', version: '1.0.0', decision: { threshold: 0.3, bands } } as unknown as ModelManifest;

/** A reason naming the row's first feature value, so each event shows whose row it was explained from. */
const reasonOf = (row: Float64Array, k: number): FeatureReason[] => [{ feature: `row${row[0]}`, value: row[0]!, contribution: 1 }].slice(0, k);

const CHANGE: EmitPolicy = { emit: 'change', hysteresis: { logOdds: 1.2 }, largeMove: { logOdds: 1.5 }, cooldownMs: 30 * 86_400_000 };
const EVERY: EmitPolicy = { ...CHANGE, emit: 'every' };

/** Step i is customer `customers[i]` (default: its own customer c<i>), none with a stored score. */
function batchOf(scores: number[], model: ScoringRef, customers?: string[]): ScoredBatch {
  const steps: ScoringStep[] = scores.map((_, i) => ({
    item: { tag: 'accepted', record: raw({}, i), event: ev('login', customers?.[i] ?? `c${i}`, 1000 + i, {}, `e${i}`) },
    order: i,
    outcome: 'applied',
    features: Float64Array.from([i]),
    stored: undefined,
    before: null,
  }));
  return { items: [], rejected: [], steps, replays: [], staged: [], refusals: [], duplicates: { redelivered: 0, sameEventId: 0 }, scores: Float32Array.from(scores), model };
}

test('decideBatch explains only published events, in one reasonsMany call per scorer, each event with its own row', async () => {
  const calls: number[][] = [];
  const single: number[] = [];
  const model: ScoringRef = {
    ...manifestRef(manifest),
    reasons: (row, k) => (single.push(row[0]!), reasonOf(row, k)),
    reasonsMany: (rows, k) => (calls.push(rows.map((r) => r[0]!)), rows.map((r) => reasonOf(r, k))),
  };
  // Steps 1 and 3 repeat their customer's band with a small move (suppressed); 0 is below the
  // threshold; 2 and 4 are above it.
  const batch = batchOf([0.1, 0.12, 0.5, 0.52, 0.7], model, ['a', 'a', 'b', 'b', 'c']);
  const out = await decideBatch(batch, CHANGE, fixedClock(1), { reasonsTopK: 2 });
  assert.deepEqual(out.riskEvents.map((e) => [e.trigger_event_id, e.reasons.map((r) => r.feature)]), [['e0', ['row0']], ['e2', ['row2']], ['e4', ['row4']]]);
  assert.deepEqual(calls, [[0, 2, 4]], 'one batch call, published rows only');
  assert.deepEqual(single, []);

  calls.length = 0;
  const above = await decideBatch(batch, CHANGE, fixedClock(1), { reasonsTopK: 2, reasonsAboveThresholdOnly: true });
  assert.deepEqual(above.riskEvents.map((e) => [e.trigger_event_id, e.reasons.length]), [['e0', 0], ['e2', 1], ['e4', 1]]);
  assert.deepEqual(calls, [[2, 4]], 'events below the threshold are not explained');

  calls.length = 0;
  await decideBatch(batch, CHANGE, fixedClock(1), { reasonsTopK: 0 });
  assert.deepEqual(calls, [], 'reasons off: nothing explained');
});

test('decideBatch: a scorer without reasonsMany (the fallback rules) is explained row by row; big batches in chunks', async () => {
  const single: number[] = [];
  const rules: ScoringRef = { ...manifestRef(manifest), scorer: 'fallback', reasons: (row, k) => (single.push(row[0]!), reasonOf(row, k)) };
  const n = 70;
  const out = await decideBatch(batchOf(new Array(n).fill(0.5), rules), EVERY, fixedClock(1), { reasonsTopK: 1 });
  assert.deepEqual(single, Array.from({ length: n }, (_, i) => i));
  assert.ok(out.riskEvents.every((e, i) => e.reasons[0]!.feature === `row${i}`));

  const sizes: number[] = [];
  const model: ScoringRef = { ...manifestRef(manifest), reasons: reasonOf, reasonsMany: (rows, k) => (sizes.push(rows.length), rows.map((r) => reasonOf(r, k))) };
  const many = await decideBatch(batchOf(new Array(n).fill(0.5), model), EVERY, fixedClock(1), { reasonsTopK: 1 });
  assert.deepEqual(sizes, [32, 32, 6]);
  assert.ok(many.riskEvents.every((e, i) => e.reasons[0]!.feature === `row${i}`));
});

test('decideBatch: a share of the published rows goes to the worker thread (the tail), the rest are explained here; each event keeps its own row', async () => {
  const here: number[][] = [];
  const elsewhere: number[][] = [];
  const model: ScoringRef = {
    ...manifestRef(manifest),
    reasons: reasonOf,
    reasonsMany: (rows, k) => (here.push(rows.map((r) => r[0]!)), rows.map((r) => reasonOf(r, k))),
    reasonsOffThread: { share: 0.25, reasons: async (rows, k) => (elsewhere.push(rows.map((r) => r[0]!)), rows.map((r) => reasonOf(r, k))) },
  };
  const n = 40;
  const out = await decideBatch(batchOf(new Array(n).fill(0.5), model), EVERY, fixedClock(1), { reasonsTopK: 1 });
  assert.deepEqual(elsewhere, [Array.from({ length: 10 }, (_, i) => 30 + i)], 'the last quarter, in one call');
  assert.deepEqual(here, [Array.from({ length: 30 }, (_, i) => i)]);
  assert.ok(out.riskEvents.every((e, i) => e.reasons[0]!.feature === `row${i}`));

  // Too few rows to be worth a round trip: all explained here.
  here.length = 0;
  elsewhere.length = 0;
  await decideBatch(batchOf(new Array(7).fill(0.5), model), EVERY, fixedClock(1), { reasonsTopK: 1 });
  assert.deepEqual(elsewhere, []);
  assert.deepEqual(here, [[0, 1, 2, 3, 4, 5, 6]]);
});
