import { test } from 'node:test';
import assert from 'node:assert/strict';
import { averagePrecision, brierScore, precisionRecallCurve, rocAuc, rocCurve, thresholdMetrics } from '../../../src/backtest/metrics.js';
import { countsAt, rankedCounts } from '../../../src/backtest/ranked-counts.js';
import { ChurnflowError } from '../../../src/errors.js';

const close = (a: number | null, b: number, eps = 1e-12) => assert.ok(a !== null && Math.abs(a - b) <= eps, `${a} vs ${b}`);

// Three churners (0.9, 0.5, 0.1) and two non-churners (0.9, 0.5): ties at 0.9 and at 0.5.
const y = [1, 0, 1, 0, 1];
const s = [0.9, 0.9, 0.5, 0.5, 0.1];

test('ranked counts: one entry per distinct score, tied scores enter together', () => {
  const r = rankedCounts(y, s);
  assert.deepEqual([...r.thresholds], [0.9, 0.5, 0.1]);
  assert.deepEqual([...r.tp], [1, 2, 3]);
  assert.deepEqual([...r.fp], [1, 2, 2]);
  assert.equal(r.positives, 3);
  assert.equal(r.negatives, 2);
  assert.deepEqual(countsAt(r, 0.95), { tp: 0, fp: 0 });
  assert.deepEqual(countsAt(r, 0.9), { tp: 1, fp: 1 }, 'score >= threshold is flagged');
  assert.deepEqual(countsAt(r, 0.6), { tp: 1, fp: 1 });
  assert.deepEqual(countsAt(r, 0.5), { tp: 2, fp: 2 });
  assert.deepEqual(countsAt(r, 0), { tp: 3, fp: 2 });
});

test('ROC-AUC counts a tied churner/non-churner pair as one half', () => {
  // Pairs (churner, non-churner): (0.9,0.9) ½, (0.9,0.5) 1, (0.5,0.9) 0, (0.5,0.5) ½, (0.1,·) 0 → 2 of 6.
  close(rocAuc(rankedCounts(y, s)), 2 / 6);
  assert.deepEqual(rocCurve(rankedCounts(y, s)), [
    { x: 0, y: 0 },
    { x: 0.5, y: 1 / 3 },
    { x: 1, y: 2 / 3 },
    { x: 1, y: 1 },
  ]);
  close(rocAuc(rankedCounts([1, 1, 0, 0], [0.8, 0.7, 0.2, 0.1])), 1);
  close(rocAuc(rankedCounts([0, 0, 1, 1], [0.8, 0.7, 0.2, 0.1])), 0);
  close(rocAuc(rankedCounts([1, 0, 1, 0], [0.4, 0.4, 0.4, 0.4])), 0.5, 0);
});

test('average precision: Σ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds, no interpolation', () => {
  // 0.9: P 1/2 R 1/3; 0.5: P 2/4 R 2/3; 0.1: P 3/5 R 1.
  close(averagePrecision(rankedCounts(y, s)), (1 / 3) * 0.5 + (1 / 3) * 0.5 + (1 / 3) * 0.6);
  assert.deepEqual(precisionRecallCurve(rankedCounts(y, s)).map((p) => [p.x, p.y]), [
    [1 / 3, 0.5],
    [2 / 3, 0.5],
    [1, 0.6],
  ]);
  close(averagePrecision(rankedCounts([1, 1, 0, 0], [0.8, 0.7, 0.2, 0.1])), 1);
  close(averagePrecision(rankedCounts([1, 0, 1, 0], [0.4, 0.4, 0.4, 0.4])), 0.5, 0);
});

test('one class only, or no rows: ROC-AUC and PR-AUC are null, never NaN', () => {
  for (const labels of [[1, 1, 1], [0, 0, 0], []]) {
    const r = rankedCounts(labels, labels.map((_, i) => i / 10));
    assert.equal(rocAuc(r), null);
    assert.equal(averagePrecision(r), null);
  }
  assert.deepEqual(rocCurve(rankedCounts([1, 1], [0.2, 0.3])), []);
  assert.equal(precisionRecallCurve(rankedCounts([0, 0], [0.2, 0.3])).length, 0);
  assert.equal(precisionRecallCurve(rankedCounts([1, 1], [0.2, 0.3])).length, 2, 'all positive: precision 1 at every recall');
});

test('threshold metrics: score >= threshold is contacted; zero division gives 0 (as the trainer)', () => {
  assert.deepEqual(thresholdMetrics(y, s, 0.5), { threshold: 0.5, tp: 2, fp: 2, fn: 1, tn: 0, precision: 0.5, recall: 2 / 3, f1: 4 / 7 });
  const none = thresholdMetrics(y, s, 0.95);
  assert.deepEqual([none.tp, none.fp, none.fn, none.tn, none.precision, none.recall, none.f1], [0, 0, 3, 2, 0, 0, 0]);
  const negatives = thresholdMetrics([0, 0], [0.7, 0.1], 0.5);
  assert.deepEqual([negatives.precision, negatives.recall, negatives.f1], [0, 0, 0]);
  const all = thresholdMetrics([1, 1], [0.7, 0.1], 0);
  assert.deepEqual([all.precision, all.recall, all.f1], [1, 1, 1]);
});

test('Brier score: mean squared error of the scores', () => {
  close(brierScore([1, 0], [0.8, 0.4]), (0.04 + 0.16) / 2);
  assert.equal(brierScore([], []), null);
});

test('bad input is refused with a coded error naming the row', () => {
  assert.throws(() => rankedCounts([1, 2], [0.1, 0.2]), (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_INPUT_INVALID' && /label 1 is 2/.test(e.message));
  assert.throws(() => rankedCounts([1, 0], [0.1, Number.NaN]), /score 1 is NaN/);
  assert.throws(() => thresholdMetrics([1], [0.1, 0.2], 0.5), /differ in length/);
});
