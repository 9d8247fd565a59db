import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binIndex, shareAbove } from '../../../src/monitoring/drift/bins.js';
import { chiSquareSurvival, chiSquareTwoSample, logGamma } from '../../../src/monitoring/drift/chi-square.js';
import { kolmogorovSurvival } from '../../../src/monitoring/drift/kolmogorov.js';
import { ksBinned } from '../../../src/monitoring/drift/ks-binned.js';
import { psi, PSI_EPSILON } from '../../../src/monitoring/drift/psi.js';

const close = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-300), `${what}: ${a} vs ${b}`);

test('bins are (-inf, e0], (e0, e1], …, (e_last, +inf), as numpy searchsorted side=left cuts them', () => {
  const edges = [0, 1, 3];
  assert.deepEqual([-5, 0, 0.5, 1, 2, 3, 3.1, 99].map((v) => binIndex(edges, v)), [0, 0, 1, 1, 2, 2, 3, 3]);
  assert.equal(binIndex([], 42), 0);
});

test('share above a threshold interpolates inside its bin; the outer bins are closed by low/high', () => {
  const edges = [0.1, 0.2];
  const shares = [0.5, 0.3, 0.2];
  assert.equal(shareAbove(edges, shares, 0.2, 0, 1), 0.2);
  close(shareAbove(edges, shares, 0.15, 0, 1), 0.2 + 0.15, 1e-12, 'middle of bin 1');
  close(shareAbove(edges, shares, 0.6, 0, 1), 0.2 * 0.5, 1e-12, 'middle of the open top bin');
});

test('PSI: zero for identical distributions, the textbook sum otherwise, epsilon for empty bins', () => {
  assert.equal(psi([25, 25, 50], [0.25, 0.25, 0.5]), 0);
  const expected = (0.5 - 0.25) * Math.log(0.5 / 0.25) + (0.25 - 0.25) * 0 + (0.25 - 0.5) * Math.log(0.25 / 0.5);
  close(psi([50, 25, 25], [0.25, 0.25, 0.5]), expected, 1e-12, 'psi');
  // an empty live bin: its share becomes epsilon
  close(psi([0, 50, 50], [0.2, 0.4, 0.4]), (PSI_EPSILON - 0.2) * Math.log(PSI_EPSILON / 0.2) + 2 * (0.5 - 0.4) * Math.log(0.5 / 0.4), 1e-12, 'empty bin');
  // a category the reference never saw
  assert.ok(psi([70, 30], [1, 0]) > 2);
  assert.ok(Number.isNaN(psi([0, 0], [0.5, 0.5])));
});

test('KS on bins: the largest CDF gap at the edges and the asymptotic p-value at √(nm/(n+m))·D', () => {
  const r = ksBinned([10, 30, 60], [0.3, 0.3, 0.4], 1000);
  // CDF live 0.1, 0.4 | reference 0.3, 0.6 → D = 0.2
  close(r.statistic, 0.2, 1e-12, 'D');
  close(r.effectiveN, (100 * 1000) / 1100, 1e-12, 'effective n');
  close(r.pValue, kolmogorovSurvival(Math.sqrt(r.effectiveN) * r.statistic), 1e-15, 'p');
  assert.equal(ksBinned([5, 5], [0.5, 0.5], 100).statistic, 0);
});

test('Kolmogorov survival matches scipy.stats.kstwobign.sf across both series', () => {
  const scipy: [number, number][] = [
    [0.2, 0.999999999999495], [0.5, 0.9639452436648751], [1.0, 0.26999967167735456], [1.18, 0.1234538094297657],
    [1.5, 0.022217962616525127], [2.0, 0.0006709252557796953], [3.0, 3.045995948942526e-8], [5.0, 3.8574996959278356e-22],
  ];
  for (const [x, p] of scipy) close(kolmogorovSurvival(x), p, 1e-10, `Q(${x})`);
  assert.equal(kolmogorovSurvival(0), 1);
});

test('chi-square survival and log-gamma match scipy', () => {
  const scipy: [number, number, number][] = [
    [3.841458820694124, 1, 0.04999999999999989], [10, 3, 0.01856613546304325], [0.5, 2, 0.7788007830714049],
    [50, 10, 2.669083424904495e-7], [200, 5, 2.8406228986415534e-41], [0.001, 4, 0.9999998750416589],
  ];
  for (const [x, k, p] of scipy) close(chiSquareSurvival(x, k), p, 1e-9, `chi2.sf(${x}, ${k})`);
  for (const [z, v] of [[0.5, 0.5723649429247], [3.7, 1.428072326665388], [10, 12.801827480081469], [100.5, 361.43554046777757]] as const) close(logGamma(z), v, 1e-13, `lgamma(${z})`);
});

test('two-sample chi-square: homogeneity of a 2 × k table; a category only one side has stays finite', () => {
  const same = chiSquareTwoSample([30, 70], [0.3, 0.7], 1000);
  close(same.statistic, 0, 1e-9, 'no difference');
  assert.equal(same.dof, 1);
  const fresh = chiSquareTwoSample([40, 40, 20], [0.5, 0.5, 0], 1000);
  assert.ok(Number.isFinite(fresh.statistic) && fresh.statistic > 100 && fresh.pValue < 1e-20);
  assert.equal(chiSquareTwoSample([5, 0], [1, 0], 100).dof, 0, 'a column neither side has is dropped');
});
