import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bandOf } from '../../../src/scoring/bands.js';
import { createHash } from 'node:crypto';
import { buildRiskEvent, riskEventId, withReasons } from '../../../src/scoring/risk-decision.js';
import { emptyState, type LastScore } from '../../../src/state/customer-state.js';
import type { StagedCustomer } from '../../../src/state/stage-deltas.js';
import type { EmitPolicy } from '../../../src/scoring/emit-rule.js';
import { decideBatch } from '../../../src/operators/decide-risk.js';
import type { ScoredBatch, ScoringStep } from '../../../src/operators/batch.js';
import type { RiskEventRecord } from '../../../src/events/wire-types.js';
import type { ModelManifest } from '../../../src/scoring/manifest.js';
import { fixedClock } from '../../../src/time/clock.js';
import { ev, raw } from '../../helpers/events.js';
import { manifestRef } from '../../../src/scoring/scoring-ref.js';

const policy: EmitPolicy = { emit: 'change', hysteresis: { score: 0.1 }, largeMove: { relative: 0.5 }, cooldownMs: 1000 };
const stagedWith = (customerId: string, lastScore: LastScore | null) => ({ state: { ...emptyState(customerId), lastScore } }) as unknown as StagedCustomer;

const bands = [{ name: 'low', min_score: 0 }, { name: 'medium', min_score: 0.1 }, { name: 'high', min_score: 0.3 }];
const manifest = { name: 'm', version: '1.2.0', decision: { threshold: 0.3, bands, costs: { contact_cost: 10, churner_loss: 600, save_rate: 0.3 } } } as unknown as ModelManifest;

test('bands: the last band whose min_score is at or below the score', () => {
  assert.deepEqual([0, 0.0999, 0.1, 0.29, 0.3, 1].map((s) => bandOf(s, bands)), ['low', 'low', 'medium', 'medium', 'high', 'high']);
});

test('risk event ids are deterministic per customer, trigger and model version', () => {
  assert.equal(riskEventId('c', 'e', 'm', '1.0.0'), riskEventId('c', 'e', 'm', '1.0.0'));
  assert.notEqual(riskEventId('c', 'e', 'm', '1.0.0'), riskEventId('c', 'e', 'm', '1.0.1'));
  assert.match(riskEventId('c', 'e', 'm', '1.0.0'), /^[0-9a-f]{32}$/);
});

test('risk event ids: the first 32 hex digits of sha256 over customer, trigger, model and version joined by NUL (pinned: ids are stored and compared)', () => {
  const expected = createHash('sha256').update('c-1\u0000e-1\u0000churn-gbdt\u00001.1.0').digest('hex').slice(0, 32);
  assert.equal(riskEventId('c-1', 'e-1', 'churn-gbdt', '1.1.0'), expected);
  assert.equal(expected, 'e1c47f143e1c71548a9f0a18a0e5a42c');
  assert.equal(riskEventId('ü-é', 'e\u00002', 'm', 'v'), createHash('sha256').update('ü-é\u0000e\u00002\u0000m\u0000v').digest('hex').slice(0, 32));
});

test('withReasons gives what buildRiskEvent gives with the same reasons: same fields, same order, same bytes', () => {
  const args = { customerId: 'c', triggerEventId: 'e', eventTime: 5, processingTime: 9, score: 0.41, band: 'high', previousBand: 'low', ref: manifestRef(manifest), experimentArm: 'treatment' };
  const reasons = [
    { feature: 'tenure_days', value: 3, contribution: 0.25 },
    { feature: 'age', value: Number.NaN, contribution: 0.125 },
    { feature: 'plan', value: null, contribution: 0.0625 },
  ];
  const added = withReasons(buildRiskEvent(args), reasons);
  assert.equal(JSON.stringify(added), JSON.stringify(buildRiskEvent({ ...args, reasons })));
  assert.deepEqual(added.reasons[1], { feature: 'age', value: null, contribution: 0.125 });
});

test('decideBatch: decides each step against the stored last published score, carried from step to step; stores each decision and the new last score; counts the suppressed; re-emits stored ones in arrival order', async () => {
  let order = 0;
  const step = (customer: string, id: string): ScoringStep => ({
    item: { tag: 'accepted', record: raw({}, order), event: ev('login', customer, 1000, {}, id) },
    order: order++,
    outcome: 'applied',
    features: new Float64Array(0),
    stored: undefined,
  });
  const steps = [step('a', 'a1'), step('a', 'a2'), step('b', 'b0'), step('a', 'a3'), step('b', 'b1')];
  // b0 is a redelivery of an event applied before: its decision comes from the outbox, not from scoring.
  const stored = { event_id: 'stored-b0', customer_id: 'b', score: 0.5 } as unknown as RiskEventRecord;
  const [b0] = steps.splice(2, 1);
  const batch: ScoredBatch = {
    items: [],
    rejected: [],
    steps,
    replays: [{ item: b0!.item, order: b0!.order, decision: { risk: stored } }],
    // a has never been published; b's last published score (stored with its state) is 0.5, high.
    staged: [stagedWith('a', null), stagedWith('b', { score: 0.5, band: 'high', modelName: 'm', modelVersion: '1.2.0', eventTime: 500, riskEventId: 'stored-b0' })],
    refusals: [],
    duplicates: { redelivered: 1, sameEventId: 0 },
    // a1 is a's first score; a2 stays low (0.05 → 0.06: small); a3 enters high; b1 at 0.28 is below the high edge, within the hysteresis.
    scores: Float32Array.from([0.05, 0.06, 0.35, 0.28]),
    model: manifestRef(manifest),
  };
  const out = await decideBatch(batch, policy, fixedClock(42));
  assert.deepEqual(out.riskEvents.map((e) => `${e.trigger_event_id ?? e.event_id}:${e.band}:${e.previous_band}`), ['a1:low:null', 'stored-b0:undefined:undefined', 'a3:high:low']);
  assert.equal(out.riskEvents[1], stored, 'the stored record itself, not a recomputed one');
  const a3 = out.riskEvents[2]!;
  assert.equal(a3.above_threshold, true);
  assert.equal(a3.threshold, 0.3);
  assert.equal(a3.processing_time, 42);
  assert.equal(a3.model_version, '1.2.0');
  assert.deepEqual(out.lastScores.map((l) => [l.customerId, l.lastScore]), [['a', { score: a3.score, band: 'high', modelName: 'm', modelVersion: '1.2.0', eventTime: 1000, riskEventId: a3.event_id }]]);
  assert.deepEqual(out.suppressed, { small_move: 1, within_hysteresis: 1 });
  // Every new risk event is stored under its source position; steps that emitted nothing store nothing.
  assert.deepEqual(out.outbox.map((e) => [e.customerId, e.key, (JSON.parse(e.payload) as { risk: RiskEventRecord }).risk.trigger_event_id]), [['a', 'test@0', 'a1'], ['a', 'test@3', 'a3']]);
  assert.deepEqual(JSON.parse(out.outbox[1]!.payload), { risk: a3 });
  const received = await decideBatch(batch, { ...policy, emit: 'every' }, fixedClock(42), { processingTime: 'received' });
  assert.equal(received.riskEvents.length, 5);
  assert.ok(received.riskEvents.filter((e) => e !== stored).every((e) => e.processing_time === 0), "'received' mode takes the record's receipt time");
});
