import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referencePercentile, standoutFeatures } from '../../../src/monitoring/standout-features.js';

const bins = { edges: [1, 2, 3], shares: [0.25, 0.25, 0.25, 0.25] };

test('reference percentile from bins', () => {
  assert.equal(referencePercentile(bins, 0), 0.125);
  assert.equal(referencePercentile(bins, 2.5), 0.625);
  assert.equal(referencePercentile(bins, 99), 0.875);
});

test('only tail values stand out, most extreme first', () => {
  const ref = { a: { edges: [1, 2], shares: [0.02, 0.9, 0.08] }, b: { edges: [5], shares: [0.5, 0.5] }, c: { edges: [10], shares: [0.97, 0.03] } };
  const out = standoutFeatures(['a', 'b', 'c', 'd'], Float64Array.from([0, 3, 20, 1]), ref);
  assert.deepEqual(out.map((s) => s.feature), ['a', 'c']);
});
