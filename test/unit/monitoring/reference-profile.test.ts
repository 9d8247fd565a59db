import { test } from 'node:test';
import assert from 'node:assert/strict';
import { referenceProfile, shareOfOnes } from '../../../src/monitoring/drift/reference-profile.js';
import { bundledManifest, churnColumns } from './fixtures.js';

test('the bundled manifest gives one numeric reference per numeric column and one group per category feature', () => {
  const m = bundledManifest();
  const p = referenceProfile(churnColumns(), m);
  const numeric = churnColumns().filter((c) => c.kind === 'numeric').length;
  assert.equal(p.numeric.length, numeric);
  assert.deepEqual(p.unmonitored, []);
  assert.deepEqual(p.categories.map((g) => g.name), ['plan', 'payment_method', 'region']);
  const plan = p.categories[0]!;
  assert.deepEqual(plan.categories, ['basic', 'standard', 'premium']);
  // shares of 1s of plan__basic / __standard / __premium, and __other (a constant 0 column)
  const raw = m.reference.features;
  assert.ok(Math.abs(plan.shares[0]! - raw['plan__basic']!.shares[1]!) < 1e-9);
  assert.equal(plan.shares[3], 0);
  assert.ok(Math.abs(plan.missingShare) < 1e-9);
  const age = p.numeric.find((f) => f.name === 'age')!;
  assert.ok(Math.abs(age.missingShare - raw['age']!.missing_share!) < 1e-15);
});

test('reference rows: the train split by default, overridable; score share above the threshold from the score bins', () => {
  const m = bundledManifest();
  assert.equal(referenceProfile(churnColumns(), m).referenceRows, (m.training_data as { split: { train: { rows: number } } }).split.train.rows);
  assert.equal(referenceProfile(churnColumns(), m, 4000).referenceRows, 4000);
  const s = referenceProfile(churnColumns(), m).score!;
  assert.equal(s.threshold, m.decision.threshold);
  // the threshold's bin k (edges[k-1], edges[k]]: the share above it lies between the bins above k and those from k on
  const { edges, shares } = m.reference.score;
  const k = edges.findIndex((e) => m.decision.threshold <= e);
  const from = (i: number) => shares.slice(i).reduce((a, b) => a + b, 0);
  assert.ok(k > 0 && s.shareAboveThreshold > from(k + 1) && s.shareAboveThreshold < from(k), `${s.shareAboveThreshold} in bin ${k}`);
});

test('share of ones of an indicator column: bins above edge 0; a constant column takes its median (impute)', () => {
  assert.equal(shareOfOnes({ edges: [0], shares: [0.7, 0.3] }, 0), 0.3);
  assert.equal(shareOfOnes({ edges: [], shares: [1] }, 0), 0);
  assert.equal(shareOfOnes({ edges: [], shares: [1] }, 1), 1);
});
