// The emit rule: hysteresis at a band edge does not flap, a large move publishes only after the
// cooldown (in event time), and the first crossing into the high band is always published at exactly
// the crossing score — checked on seeded random score paths, not only on hand-picked ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bandWithHysteresis, decideEmit, logOdds, type EmitPolicy } from '../../../src/scoring/emit-rule.js';
import type { LastScore } from '../../../src/state/customer-state.js';
import { rng } from '../../helpers/rng.js';

const bands = [{ name: 'low', min_score: 0 }, { name: 'medium', min_score: 0.0167 }, { name: 'high', min_score: 0.0334 }];
const DAY = 86_400_000;
const policy: EmitPolicy = { emit: 'change', hysteresis: { logOdds: 0.5 }, largeMove: { logOdds: 1 }, cooldownMs: 14 * DAY };

/** Runs the rule over a path of [score, eventTime], as decide-risk does: memory moves with each publication. */
function run(p: EmitPolicy, path: readonly (readonly [number, number])[]) {
  let last: LastScore | null = null;
  return path.map(([score, t], i) => {
    const d = decideEmit(p, last, score, t, bands);
    if (d.emit) last = { score, band: d.band, modelName: 'm', modelVersion: '1', eventTime: t, riskEventId: `r${i}` };
    return d;
  });
}

test('first score publishes; a score hovering at the high edge publishes the crossing once, then stays quiet', () => {
  const edge = 0.0334;
  const hover = [0.02, edge, edge - 0.0005, edge + 0.0004, edge - 0.001, edge + 0.0001, edge - 0.0002].map((s, i) => [s, i * DAY] as const);
  const out = run(policy, hover);
  assert.deepEqual(out.map((d) => (d.emit ? `${d.reason}:${d.band}` : d.reason)), ['first:medium', 'band_change:high', 'within_hysteresis', 'small_move', 'within_hysteresis', 'small_move', 'within_hysteresis']);
  // Without hysteresis the same path flaps on every step.
  const flappy = run({ ...policy, hysteresis: { logOdds: 0 } }, hover);
  assert.equal(flappy.filter((d) => d.emit).length, 7);
});

test('leaving a band takes a fall below its edge by more than the margin (log-odds or score units)', () => {
  const high: LastScore = { score: 0.05, band: 'high', modelName: 'm', modelVersion: '1', eventTime: 0, riskEventId: 'r' };
  const justOut = 1 / (1 + Math.exp(-(logOdds(0.0334) - 0.5))) - 1e-5;
  assert.deepEqual(decideEmit(policy, high, justOut, DAY, bands), { emit: true, reason: 'band_change', band: 'medium' });
  assert.equal(decideEmit(policy, high, justOut + 2e-5, DAY, bands).reason, 'within_hysteresis');
  // A fall through two bands goes as far down as the margin allows.
  assert.equal(bandWithHysteresis(0.0001, 'high', bands, { score: 0.005 }), 'low');
  assert.equal(bandWithHysteresis(0.013, 'high', bands, { score: 0.005 }), 'medium', '0.013 + 0.005 ≥ the medium edge: only down to medium');
  assert.equal(bandWithHysteresis(0.03, 'high', bands, { score: 0.005 }), 'high');
  assert.equal(bandWithHysteresis(0.03, 'low', bands, { score: 0.005 }), 'medium', 'up at once');
  assert.equal(bandWithHysteresis(0.03, 'gone', bands, { score: 0.005 }), 'medium', 'an unknown band (another model) starts afresh');
});

test('a large move publishes after the cooldown (event time), is suppressed as cooldown before it; band changes ignore the cooldown', () => {
  const last: LastScore = { score: 0.001, band: 'low', modelName: 'm', modelVersion: '1', eventTime: 10 * DAY, riskEventId: 'r' };
  const big = 0.004; // ≈ 1.39 log-odds above 0.001, still low
  assert.equal(decideEmit(policy, last, big, 10 * DAY + 14 * DAY - 1, bands).reason, 'cooldown');
  assert.deepEqual(decideEmit(policy, last, big, 24 * DAY, bands), { emit: true, reason: 'large_move', band: 'low' });
  assert.equal(decideEmit(policy, last, 0.0025, 30 * DAY, bands).reason, 'small_move', '< 1 log-odds');
  assert.equal(decideEmit(policy, last, big, 9 * DAY, bands).reason, 'cooldown', 'an out-of-order event older than the last publication');
  assert.equal(decideEmit(policy, last, 0.04, 10 * DAY + 1, bands).reason, 'band_change');
  // Relative moves, and no large move at all.
  const rel: EmitPolicy = { ...policy, largeMove: { relative: 1 } };
  assert.equal(decideEmit(rel, last, 0.002, 30 * DAY, bands).reason, 'large_move');
  assert.equal(decideEmit(rel, last, 0.0019, 30 * DAY, bands).reason, 'small_move');
  const { largeMove: _, ...none } = policy;
  assert.equal(decideEmit(none, last, 0.01, 30 * DAY, bands).reason, 'same_band');
  assert.deepEqual(decideEmit({ ...policy, emit: 'every' }, last, 0.001, 0, bands), { emit: true, reason: 'every', band: 'low' });
});


test('seeded score paths: every first crossing into high is published at the crossing score; never two band changes without a margin-sized move', () => {
  const policies: EmitPolicy[] = [policy, { ...policy, hysteresis: { score: 0.004 }, largeMove: { relative: 0.8 }, cooldownMs: 3 * DAY }, { ...policy, cooldownMs: 0 }];
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed);
    // A random walk in log-odds around the band edges, events minutes to days apart.
    let z = logOdds(0.005 + r() * 0.05);
    let t = 0;
    const path: [number, number][] = [];
    for (let i = 0; i < 200; i++) {
      z += (r() - 0.5) * (r() < 0.1 ? 2 : 0.3);
      t += Math.floor(r() * 2 * DAY);
      path.push([1 / (1 + Math.exp(-z)), t]);
    }
    for (const p of policies) {
      const out = run(p, path);
      const first = path.findIndex(([s]) => s >= 0.0334);
      if (first >= 0) {
        const d = out[first]!;
        assert.ok(d.emit && d.band === 'high', `seed ${seed}: the first crossing into high (step ${first}, score ${path[first]![0]}) is published`);
        assert.ok(out.slice(0, first).every((o) => !o.emit || o.band !== 'high'), `seed ${seed}: nothing is high before the crossing`);
      }
      // Every published band is the band the customer is in from then on: each later crossing back into
      // high is published too (the band held never goes up without an event).
      let held: string | null = null;
      out.forEach((d, i) => {
        if (held !== null && !d.emit) assert.equal(d.band, held, `seed ${seed} step ${i}: a suppressed score keeps the band`);
        if (d.emit) held = d.band;
        if (path[i]![0] >= 0.0334) assert.equal(d.band, 'high', `seed ${seed} step ${i}: a score at or above the edge is high`);
      });
      // Leaving high and coming back needs a fall of more than the margin in between.
      const changes = out.flatMap((d, i) => (d.emit && d.reason === 'band_change' ? [i] : []));
      for (let j = 1; j < changes.length; j++) {
        const [a, b] = [changes[j - 1]!, changes[j]!];
        if (out[a]!.band === 'high' && out[b]!.band !== 'high') {
          const s = path[b]![0];
          const margin = 'score' in p.hysteresis ? 0.0334 - s > p.hysteresis.score : logOdds(0.0334) - logOdds(s) > p.hysteresis.logOdds;
          assert.ok(margin, `seed ${seed}: left high at ${s}, within the margin`);
        }
      }
    }
  }
});
