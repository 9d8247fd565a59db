import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PredictionLedger } from '../../../src/monitoring/performance/prediction-ledger.js';
import { DAY, T0 } from './fixtures.js';

const H = 30 * DAY;
const ledger = () => new PredictionLedger({ horizonMs: H, everyMs: DAY });

test('a label joins the score in force at each tick within the horizon before it, and only those', () => {
  const l = ledger();
  l.recordScore('c', T0 + 0.5 * DAY, 0.1, '1.0.0', false);
  l.recordScore('c', T0 + 10.5 * DAY, 0.4, '1.0.0', true);
  assert.deepEqual(l.advance(T0 + 20 * DAY), []);
  // ticks T0+1d … T0+20d are pending; a label at T0+35.5d covers ticks in (T0+5.5d, T0+35.5d]
  const out = l.recordLabel('c', T0 + 35.5 * DAY);
  assert.deepEqual(out.map((p) => (p.predictionTime - T0) / DAY), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  assert.ok(out.every((p) => p.label === 1 && p.resolvedAt === T0 + 35.5 * DAY && p.customerId === 'c'));
  assert.deepEqual(out.map((p) => p.firstOfLabel), out.map((_, i) => i === 0), 'the label counts once');
  // the score in force at tick 10 is the first one (the second came at 10.5 d); from tick 11 on the second
  assert.deepEqual(out.filter((p) => p.predictionTime <= T0 + 10 * DAY).map((p) => p.score), [0.1, 0.1, 0.1, 0.1, 0.1]);
  assert.ok(out.filter((p) => p.predictionTime > T0 + 10 * DAY).every((p) => p.score === 0.4 && p.predictedPositive));
  // ticks 1..5 (their horizon ends before the label) resolve as negatives once the watermark passes
  // T + 30 d; ticks 21..35, taken after the label was known, are positives resolved at the label
  const later = l.advance(T0 + 35.9 * DAY);
  assert.deepEqual(later.filter((p) => p.label === 1).map((p) => (p.predictionTime - T0) / DAY), [21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35]);
  assert.ok(later.every((p) => !p.firstOfLabel), 'already counted');
  const neg = later.filter((p) => p.label === 0);
  assert.deepEqual(neg.map((p) => [(p.predictionTime - T0) / DAY, p.label, (p.resolvedAt - T0) / DAY]), [
    [1, 0, 31], [2, 0, 32], [3, 0, 33], [4, 0, 34], [5, 0, 35],
  ]);
});

test('no label within the horizon: every tick resolves negative at T + horizon; the customer is then forgotten', () => {
  const l = ledger();
  l.recordScore('c', T0 + 0.5 * DAY, 0.2, '1.0.0', false);
  let resolved = l.advance(T0 + 29 * DAY);
  assert.equal(resolved.length, 0);
  assert.equal(l.stats().pending, 29);
  resolved = l.advance(T0 + 100 * DAY);
  // the score is in force at ticks 1..30 (it is older than the horizon from tick 31 on)
  assert.equal(resolved.length, 30);
  assert.ok(resolved.every((p) => p.label === 0 && p.resolvedAt === p.predictionTime + H));
  assert.deepEqual(l.stats(), { customers: 0, pending: 0, lateLabels: 0 });
});

test('customers gone before a tick are not predicted; a label known before the tick resolves at it', () => {
  const l = ledger();
  l.recordScore('a', T0 + 0.5 * DAY, 0.9, '1.0.0', true);
  l.recordScore('b', T0 + 0.5 * DAY, 0.9, '1.0.0', true);
  l.recordLabel('a', T0 + 0.7 * DAY); // gone before tick 1
  l.recordLabel('b', T0 + 1.5 * DAY); // within tick 1's horizon, known before the tick is taken
  const out = l.advance(T0 + 1 * DAY);
  assert.deepEqual(out.map((p) => [p.customerId, p.label, p.resolvedAt]), [['b', 1, T0 + 1.5 * DAY]]);
  assert.equal(l.advance(T0 + 40 * DAY).filter((p) => p.customerId === 'a').length, 0);
});

test('scores arriving ahead of the watermark do not count for earlier ticks; late scores take their place in time', () => {
  const l = ledger();
  l.recordScore('c', T0 + 0.5 * DAY, 0.1, '1.0.0', false);
  l.recordScore('c', T0 + 2.5 * DAY, 0.7, '2.0.0', true); // ahead of the watermark
  l.recordScore('c', T0 + 0.8 * DAY, 0.2, '1.0.0', false); // late, but before tick 1
  l.advance(T0 + 2 * DAY);
  const out = l.recordLabel('c', T0 + 3 * DAY);
  assert.deepEqual(out.map((p) => [(p.predictionTime - T0) / DAY, p.score, p.modelVersion]), [[1, 0.2, '1.0.0'], [2, 0.2, '1.0.0']]);
});

test('a label after its predictions were resolved as negatives is counted as late', () => {
  const l = ledger();
  l.recordScore('c', T0 + 0.5 * DAY, 0.1, '1.0.0', false);
  l.advance(T0 + 40 * DAY);
  l.recordLabel('c', T0 + 20 * DAY);
  assert.equal(l.stats().lateLabels, 1);
});

test('memory: per customer only the score in force at the last tick and later ones are kept', () => {
  const l = ledger();
  for (let i = 0; i < 500; i++) l.recordScore('c', T0 + i * 0.01 * DAY, i / 1000, '1.0.0', false);
  l.advance(T0 + 5 * DAY);
  // one customer, 5 pending ticks
  assert.deepEqual(l.stats(), { customers: 1, pending: 5, lateLabels: 0 });
});
