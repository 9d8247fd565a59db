// The monitor's statistics against scipy / scikit-learn on the same data (training/.venv):
//   PSI         — numpy, on bins cut by the trainer's own reference.py (edges_for, searchsorted): 1e-12
//   KS D        — scipy.stats.ks_2samp on the binned representation (each value → its bin index,
//                 the reference as integer counts): 1e-12, since both take the same CDF maximum
//   KS p-value  — scipy.stats.kstwobign.sf(√(nm/(n+m))·D): 1e-10 relative (two series vs scipy's
//                 own; both near double precision). ks_2samp(method='asymp') uses the finite-n kstwo
//                 at round(nm/(n+m)) instead; that gap is O(1/√n) and is reported, not asserted tight
//   chi-square  — scipy.stats.chi2_contingency(correction=False): statistic and p 1e-9 relative
//   recall, precision, average precision — scikit-learn on the same scores: recall and precision
//                 exact; AP exact (1e-12) on the monitor's quantised scores (ties as sklearn groups
//                 them), and within 0.005 of AP on the raw scores
//   calibration — numpy means per reference score bin: 1e-12
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binIndex } from '../../src/monitoring/drift/bins.js';
import { chiSquareSurvival, chiSquareTwoSample } from '../../src/monitoring/drift/chi-square.js';
import { kolmogorovSurvival } from '../../src/monitoring/drift/kolmogorov.js';
import { ksBinned } from '../../src/monitoring/drift/ks-binned.js';
import { psi } from '../../src/monitoring/drift/psi.js';
import { resolveDriftMonitorOptions } from '../../src/monitoring/drift/drift-options.js';
import { performanceReport } from '../../src/monitoring/performance/performance-report.js';
import { addResolved, apBin, performanceLayout } from '../../src/monitoring/performance/performance-sketch.js';
import { pythonJson } from '../helpers/python.js';
import { rng } from '../unit/monitoring/fixtures.js';

const normal = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
const relClose = (a: number, b: number, rel: number, what: string) => assert.ok(Math.abs(a - b) <= rel * Math.max(Math.abs(b), 1e-300), `${what}: ${a} vs ${b} (rel ${Math.abs(a - b) / Math.abs(b)})`);

test('PSI and KS (statistic, p-value) on the trainer’s bins agree with numpy and scipy', (t) => {
  const r = rng(1);
  const cases = [
    { name: 'continuous, shifted', reference: Array.from({ length: 5000 }, () => normal(r)), live: Array.from({ length: 800 }, () => normal(r) * 1.2 + 0.3) },
    { name: 'continuous, same', reference: Array.from({ length: 5000 }, () => normal(r)), live: Array.from({ length: 600 }, () => normal(r)) },
    { name: 'counts with heavy ties', reference: Array.from({ length: 4000 }, () => Math.floor(-Math.log(1 - r()) * 1.5)), live: Array.from({ length: 700 }, () => Math.floor(-Math.log(1 - r()) * 2.5)) },
  ];
  const py = pythonJson<{ edges: number[]; ref_counts: number[]; psi: number; ks_d: number; ks_p_kstwobign: number; ks_p_asymp: number; ks_raw_d: number }[]>(
    `
import json, sys
import numpy as np
from scipy import stats
sys.path.insert(0, 'training')
from churnflow_trainer.reference import edges_for
out = []
for c in json.load(sys.stdin):
    ref = np.array(c['reference']); live = np.array(c['live'])
    edges = edges_for(ref)
    e = np.asarray(edges, dtype=np.float64)
    rb = np.searchsorted(e, ref, side='left'); lb = np.searchsorted(e, live, side='left')
    k = len(edges) + 1
    rc = np.bincount(rb, minlength=k); lc = np.bincount(lb, minlength=k)
    p = lc / lc.sum(); q = rc / rc.sum()
    p = np.where(p > 0, p, 1e-4); q = np.where(q > 0, q, 1e-4)
    psi = float(np.sum((p - q) * np.log(p / q)))
    ks = stats.ks_2samp(lb, rb)
    n, m = len(lb), len(rb)
    en = n * m / (n + m)
    out.append({'edges': edges, 'ref_counts': rc.tolist(), 'psi': psi, 'ks_d': float(ks.statistic),
                'ks_p_kstwobign': float(stats.kstwobign.sf(np.sqrt(en) * ks.statistic)),
                'ks_p_asymp': float(stats.ks_2samp(lb, rb, method='asymp').pvalue),
                'ks_raw_d': float(stats.ks_2samp(live, ref).statistic)})
print(json.dumps(out))
`,
    cases,
  );
  cases.forEach((c, i) => {
    const p = py[i]!;
    const k = p.edges.length + 1;
    const live = new Array<number>(k).fill(0);
    for (const v of c.live) live[binIndex(p.edges, v)]! += 1;
    const refTotal = p.ref_counts.reduce((a, b) => a + b, 0);
    const refCheck = new Array<number>(k).fill(0);
    for (const v of c.reference) refCheck[binIndex(p.edges, v)]! += 1;
    assert.deepEqual(refCheck, p.ref_counts, `${c.name}: same bins as numpy searchsorted`);
    const shares = p.ref_counts.map((x) => x / refTotal);
    assert.ok(Math.abs(psi(live, shares) - p.psi) <= 1e-12, `${c.name} PSI ${psi(live, shares)} vs ${p.psi}`);
    const ks = ksBinned(live, shares, refTotal);
    assert.ok(Math.abs(ks.statistic - p.ks_d) <= 1e-12, `${c.name} KS D ${ks.statistic} vs ${p.ks_d}`);
    relClose(ks.pValue, p.ks_p_kstwobign, 1e-10, `${c.name} KS p vs kstwobign`);
    assert.ok(ks.statistic <= p.ks_raw_d + 1e-12, 'binning can only lower D');
    t.diagnostic(`${c.name}: PSI ${p.psi.toFixed(4)}, D ${p.ks_d.toFixed(4)} (raw values ${p.ks_raw_d.toFixed(4)}), p kstwobign ${p.ks_p_kstwobign.toExponential(3)} vs ks_2samp asymp (kstwo) ${p.ks_p_asymp.toExponential(3)}`);
  });
});

test('Kolmogorov and chi-square survival functions agree with scipy over a grid', () => {
  const lambdas = Array.from({ length: 120 }, (_, i) => 0.15 + i * 0.05);
  const chi = [1, 2, 3, 5, 9, 30].flatMap((k) => [0.01, 0.5, 1, 2, 5, 10, 20, 40, 80, 200].map((x) => [x, k] as const));
  const py = pythonJson<{ ks: number[]; chi: number[] }>(
    `
import json, sys
from scipy import stats
d = json.load(sys.stdin)
print(json.dumps({'ks': [float(stats.kstwobign.sf(x)) for x in d['l']], 'chi': [float(stats.chi2.sf(x, k)) for x, k in d['c']]}))
`,
    { l: lambdas, c: chi },
  );
  lambdas.forEach((x, i) => relClose(kolmogorovSurvival(x), py.ks[i]!, 1e-10, `Q(${x})`));
  chi.forEach(([x, k], i) => relClose(chiSquareSurvival(x, k), py.chi[i]!, 1e-9, `chi2.sf(${x}, ${k})`));
});

test('chi-square of live categories against reference shares equals scipy chi2_contingency without correction', () => {
  const cases = [
    { live: [120, 95, 60, 0], shares: [0.38, 0.374, 0.246, 0], n: 47039 },
    { live: [100, 80, 50, 45], shares: [0.38, 0.374, 0.246, 0], n: 47039 }, // a new category
    { live: [30, 970], shares: [0.12, 0.88], n: 5000 }, // a missing rate (2 × 2)
  ];
  const py = pythonJson<{ stat: number; p: number; dof: number }[]>(
    `
import json, sys
import numpy as np
from scipy import stats
out = []
for c in json.load(sys.stdin):
    live = np.array(c['live'], dtype=float); ref = np.array(c['shares']) / np.sum(c['shares']) * c['n']
    keep = (live + ref) > 0
    r = stats.chi2_contingency(np.vstack([live[keep], ref[keep]]), correction=False)
    out.append({'stat': float(r.statistic), 'p': float(r.pvalue), 'dof': int(r.dof)})
print(json.dumps(out))
`,
    cases,
  );
  cases.forEach((c, i) => {
    const ts = chiSquareTwoSample(c.live, c.shares, c.n);
    relClose(ts.statistic, py[i]!.stat, 1e-9, `case ${i} statistic`);
    relClose(ts.pValue, py[i]!.p, 1e-9, `case ${i} p`);
    assert.equal(ts.dof, py[i]!.dof);
  });
});

test('recall, precision, average precision and calibration agree with scikit-learn / numpy', (t) => {
  const r = rng(5);
  const n = 20_000;
  const threshold = 0.0657;
  const edges = [0.0064, 0.0088, 0.0115, 0.0148, 0.0191, 0.0253, 0.0352, 0.0537, 0.1047];
  const y: number[] = [];
  const s: number[] = [];
  for (let i = 0; i < n; i++) {
    const risk = Math.exp(-4.5 + 1.3 * normal(r));
    const score = Math.min(0.999, Math.max(1e-5, risk * Math.exp(0.4 * normal(r))));
    y.push(r() < Math.min(1, risk * 1.5) ? 1 : 0);
    s.push(score);
  }
  const layout = performanceLayout(edges);
  const counts = new Float64Array(layout.size);
  s.forEach((score, i) => addResolved(counts, layout, { customerId: `c${i}`, predictionTime: 0, resolvedAt: 0, score, modelVersion: 'v', predictedPositive: score >= threshold, label: y[i] === 1 ? 1 : 0, firstOfLabel: true }));
  const report = performanceReport(counts, layout, null, resolveDriftMonitorOptions());
  const py = pythonJson<{ recall: number; precision: number; ap_quantised: number; ap_raw: number; mean: (number | null)[]; observed: (number | null)[] }>(
    `
import json, sys
import numpy as np
from sklearn.metrics import recall_score, precision_score, average_precision_score
d = json.load(sys.stdin)
y = np.array(d['y']); s = np.array(d['s']); q = np.array(d['q'])
pred = (s >= d['threshold']).astype(int)
b = np.searchsorted(np.array(d['edges']), s, side='left')
mean = [float(s[b == k].mean()) if np.any(b == k) else None for k in range(len(d['edges']) + 1)]
obs = [float(y[b == k].mean()) if np.any(b == k) else None for k in range(len(d['edges']) + 1)]
print(json.dumps({'recall': float(recall_score(y, pred)), 'precision': float(precision_score(y, pred)),
                  'ap_quantised': float(average_precision_score(y, q)), 'ap_raw': float(average_precision_score(y, s)),
                  'mean': mean, 'observed': obs}))
`,
    { y, s, q: s.map(apBin), threshold, edges },
  );
  assert.equal(report.recall, py.recall);
  assert.equal(report.precision, py.precision);
  assert.ok(Math.abs(report.averagePrecision - py.ap_quantised) <= 1e-12, `AP ${report.averagePrecision} vs ${py.ap_quantised}`);
  assert.ok(Math.abs(report.averagePrecision - py.ap_raw) <= 0.005, `AP quantised ${report.averagePrecision} vs raw ${py.ap_raw}`);
  report.calibration.forEach((b, k) => {
    if (py.mean[k] === null) return assert.equal(b.count, 0);
    assert.ok(Math.abs(b.meanScore - py.mean[k]!) <= 1e-12 && Math.abs(b.observedRate - py.observed[k]!) <= 1e-12, `calibration bin ${k}`);
  });
  t.diagnostic(`recall ${py.recall.toFixed(4)}, precision ${py.precision.toFixed(4)}, AP ${report.averagePrecision.toFixed(5)} (raw scores ${py.ap_raw.toFixed(5)}, |Δ| ${Math.abs(report.averagePrecision - py.ap_raw).toExponential(2)})`);
});
