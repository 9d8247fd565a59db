import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrationBins, calibrationEdges } from '../../../src/backtest/calibration.js';
import { liftByDecile } from '../../../src/backtest/lift.js';
import { scoreHistogram } from '../../../src/backtest/score-histogram.js';

test('calibration edges are numpy linspace values (0.30000000000000004, not 0.3)', () => {
  const e = calibrationEdges(10);
  assert.equal(e.length, 11);
  assert.equal(e[3], 0.30000000000000004);
  assert.equal(e[10], 1);
});

test('calibration bins are (lower, upper], the first also holds 0; empty bins are null', () => {
  const scores = [0, 0.1, 0.1000001, 0.3, 0.30000000000000004, 0.95, 1];
  const labels = [0, 1, 0, 1, 1, 0, 1];
  const bins = calibrationBins(labels, scores);
  assert.deepEqual(bins.map((b) => b.rows), [2, 1, 2, 0, 0, 0, 0, 0, 0, 2]);
  assert.deepEqual(bins.map((b) => b.churners), [1, 0, 2, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(bins[0]!.meanPredicted, 0.05);
  assert.equal(bins[0]!.observedRate, 0.5);
  assert.equal(bins[2]!.meanPredicted, (0.3 + 0.30000000000000004) / 2);
  assert.equal(bins[3]!.meanPredicted, null);
  assert.equal(bins[3]!.observedRate, null);
  assert.equal(bins[9]!.meanPredicted, 0.975);
  assert.throws(() => calibrationBins([1], [1.2]), /probabilities in \[0, 1\]/);
  assert.throws(() => calibrationBins([1], [0.2], 0), /positive whole number/);
});

test('lift: ten equal groups by rank, riskiest first; ties at a cut are split by row order', () => {
  // 20 rows: scores 0.95, 0.9, …, 0.0; churners at the top 4 and at rank 10.
  const scores = Array.from({ length: 20 }, (_, i) => (19 - i) / 20);
  const labels = scores.map((_, i) => (i < 4 || i === 10 ? 1 : 0));
  const lift = liftByDecile(labels, scores);
  assert.deepEqual(lift.map((r) => r.rows), Array(10).fill(2));
  assert.deepEqual(lift.map((r) => r.churners), [2, 2, 0, 0, 0, 1, 0, 0, 0, 0]);
  assert.equal(lift[0]!.churnRate, 1);
  assert.equal(lift[0]!.lift, 1 / 0.25);
  assert.equal(lift[0]!.maxScore, 0.95);
  assert.equal(lift[0]!.minScore, 0.9);
  assert.equal(lift[1]!.cumulativeCapture, 4 / 5);
  assert.equal(lift[1]!.cumulativeLift, 1 / 0.25);
  assert.equal(lift[9]!.cumulativeCapture, 1);
  assert.equal(lift[9]!.cumulativeLift, 1);

  const tied = liftByDecile([1, 0, 1, 0, 0, 0, 0, 0, 0, 0], Array(10).fill(0.5));
  assert.deepEqual(tied.map((r) => r.churners), [1, 0, 1, 0, 0, 0, 0, 0, 0, 0], 'equal scores keep row order');
});

test('lift: group sizes when rows do not divide by ten; no churners gives null lift', () => {
  const lift = liftByDecile(Array(25).fill(0), Array.from({ length: 25 }, (_, i) => i / 25));
  assert.deepEqual(lift.map((r) => r.rows), [2, 3, 2, 3, 2, 3, 2, 3, 2, 3]);
  assert.ok(lift.every((r) => r.lift === null && r.cumulativeCapture === null && r.churnRate === 0));
  const empty = liftByDecile([], []);
  assert.ok(empty.every((r) => r.rows === 0 && r.churnRate === null && r.minScore === null));
});

test('score histogram: shares per group, scores above the range fall into the last bin', () => {
  const h = scoreHistogram([1, 0, 0, 0], [0.99, 0.1, 0.12, 1], 5, 1);
  assert.deepEqual(h.edges, [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1]);
  assert.deepEqual(h.churners, [0, 0, 0, 0, 1]);
  assert.deepEqual(h.nonChurners, [2, 0, 0, 0, 1]);
  assert.deepEqual(h.nonChurnerShare, [2 / 3, 0, 0, 0, 1 / 3]);
  assert.deepEqual(scoreHistogram([], [], 2, 1).churnerShare, [0, 0]);
});
