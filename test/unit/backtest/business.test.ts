import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestRow, businessAt, checkCosts, thresholdGrid } from '../../../src/backtest/business.js';
import { rankedCounts } from '../../../src/backtest/ranked-counts.js';
import { Prng } from '../../../src/simulator/prng.js';

const costs = { contactCost: 10, churnerLoss: 600, saveRate: 0.3 };

test('campaign arithmetic at a threshold: contacted, caught, saved, cost, revenue, net value, ROI', () => {
  // 10 rows at or above 0.5, 4 of them churners; 2 more churners below.
  const scores = [0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.55, 0.5, 0.5, 0.5, 0.4, 0.1, 0.05];
  const labels = [1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0];
  const row = businessAt(rankedCounts(labels, scores), 0.5, costs);
  assert.deepEqual(row, {
    threshold: 0.5,
    contacted: 10,
    churnersCaught: 4,
    expectedSaved: 4 * 0.3,
    campaignCost: 100,
    revenueSaved: 4 * 0.3 * 600,
    netValue: 4 * 0.3 * 600 - 100,
    roi: (4 * 0.3 * 600 - 100) / 100,
    precision: 0.4,
    recall: 4 / 6,
  });
  const nobody = businessAt(rankedCounts(labels, scores), 0.95, costs);
  assert.deepEqual([nobody.contacted, nobody.campaignCost, nobody.netValue, nobody.roi, nobody.precision], [0, 0, 0, null, 0]);
});

test("net value equals the trainer's formula (TP·save_rate·churner_loss − contacted·contact_cost) on random data", () => {
  const rng = new Prng(3, 9);
  const n = 500;
  const scores = Array.from({ length: n }, () => Math.round(rng.next() * 100) / 100);
  const labels = scores.map((s) => (rng.next() < s * 0.5 ? 1 : 0));
  const ranked = rankedCounts(labels, scores);
  for (const t of thresholdGrid(0.01)) {
    const r = businessAt(ranked, t, costs);
    let tp = 0;
    let contacted = 0;
    scores.forEach((s, i) => {
      if (s >= t) {
        contacted++;
        tp += labels[i]!;
      }
    });
    assert.equal(r.contacted, contacted);
    assert.equal(r.churnersCaught, tp);
    assert.equal(r.netValue, tp * costs.saveRate * costs.churnerLoss - contacted * costs.contactCost);
    assert.ok(r.churnersCaught <= r.contacted);
  }
});

test('threshold grid: i/steps values, a step that does not divide 1 is refused', () => {
  const g = thresholdGrid(0.01);
  assert.equal(g.length, 99);
  assert.equal(g[0], 0.01);
  assert.equal(g[6], 0.07);
  assert.equal(g[98], 0.99);
  assert.deepEqual(thresholdGrid(0.25), [0.25, 0.5, 0.75]);
  assert.throws(() => thresholdGrid(0.03), /must divide 1/);
  assert.throws(() => thresholdGrid(0.7), /must divide 1/);
});

test('best row: highest net value; a tie goes to the higher threshold (fewer contacts), as the trainer', () => {
  const row = (threshold: number, netValue: number) => ({ threshold, netValue, contacted: 0, churnersCaught: 0, expectedSaved: 0, campaignCost: 0, revenueSaved: 0, roi: null, precision: 0, recall: 0 });
  assert.equal(bestRow([row(0.1, 5), row(0.2, 9), row(0.3, 9), row(0.4, 1)])!.threshold, 0.3);
  assert.equal(bestRow([]), null);
});

test('costs are checked', () => {
  assert.throws(() => checkCosts({ ...costs, contactCost: 0 }), /contact cost must be > 0/);
  assert.throws(() => checkCosts({ ...costs, saveRate: 1.5 }), /save rate must be in \(0, 1\]/);
  assert.doesNotThrow(() => checkCosts(costs));
});
