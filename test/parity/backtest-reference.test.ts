// Backtest metrics against scikit-learn and the experiment readout's z, p and interval against
// scipy.stats.norm, on the same seeded data (with ties), within 1e-9.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrationBins } from '../../src/backtest/calibration.js';
import { experimentReadout, type ArmAssignment } from '../../src/backtest/experiment-readout.js';
import { averagePrecision, brierScore, rocAuc, thresholdMetrics } from '../../src/backtest/metrics.js';
import { rankedCounts } from '../../src/backtest/ranked-counts.js';
import { Prng } from '../../src/simulator/prng.js';
import { pythonJson } from '../helpers/python.js';

const TOL = 1e-9;

interface Dataset {
  readonly name: string;
  readonly y: number[];
  readonly s: number[];
}

const THRESHOLDS = [0, 0.1, 0.25, 0.3, 0.30000000000000004, 0.5, 0.9, 1, 1.01];

function datasets(): Dataset[] {
  const rng = new Prng(2024, 77);
  const out: Dataset[] = [];
  // Scores on a 0.01 grid (heavy ties), churn more likely at higher scores.
  {
    const s = Array.from({ length: 3000 }, () => Math.round(rng.next() ** 2 * 100) / 100);
    out.push({ name: 'ties on a 0.01 grid', s, y: s.map((v) => (rng.next() < 0.05 + 0.6 * v ? 1 : 0)) });
  }
  // Very few distinct values, several exactly on calibration bin edges (0.1, 0.3 and numpy's 0.30000000000000004).
  {
    const values = [0, 0.1, 0.2, 0.3, 0.30000000000000004, 0.5, 0.7, 0.9, 1];
    const s = Array.from({ length: 800 }, () => values[rng.int(values.length)]!);
    out.push({ name: 'scores on bin edges', s, y: s.map((v) => (rng.next() < 0.1 + 0.5 * v ? 1 : 0)) });
  }
  // float32 scores as ONNX returns them, few churners.
  {
    const s = Array.from({ length: 1500 }, () => Math.fround(rng.next() ** 4));
    out.push({ name: 'float32, rare churn', s, y: s.map((v) => (rng.next() < 0.02 + 0.3 * v ? 1 : 0)) });
  }
  // Tiny.
  out.push({ name: 'tiny', s: [0.2, 0.2, 0.7, 0.1, 0.9, 0.7, 0.05], y: [1, 0, 1, 0, 0, 1, 0] });
  return out;
}

const SKLEARN = String.raw`
import json, sys
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, precision_recall_fscore_support, brier_score_loss
from sklearn.calibration import calibration_curve
data = json.load(sys.stdin)
out = []
for d in data["datasets"]:
    y = np.array(d["y"], dtype=np.int64)
    s = np.array(d["s"], dtype=np.float64)
    at = []
    for t in data["thresholds"]:
        p, r, f, _ = precision_recall_fscore_support(y, (s >= t).astype(np.int64), average="binary", pos_label=1, zero_division=0)
        at.append([float(p), float(r), float(f)])
    prob_true, prob_pred = calibration_curve(y, s, n_bins=10, strategy="uniform")
    out.append({
        "roc_auc": float(roc_auc_score(y, s)),
        "ap": float(average_precision_score(y, s)),
        "brier": float(brier_score_loss(y, s)),
        "at": at,
        "prob_true": [float(v) for v in prob_true],
        "prob_pred": [float(v) for v in prob_pred],
    })
print(json.dumps(out))
`;

interface SklearnResult {
  roc_auc: number;
  ap: number;
  brier: number;
  at: [number, number, number][];
  prob_true: number[];
  prob_pred: number[];
}

function near(actual: number | null, expected: number, what: string): void {
  assert.ok(actual !== null && Math.abs(actual - expected) <= TOL, `${what}: ${actual} vs ${expected}`);
}

test('ROC-AUC, average precision, precision/recall/F1 at thresholds, calibration bins and Brier match scikit-learn (1e-9)', () => {
  const data = datasets();
  for (const d of data) assert.ok(d.y.includes(0) && d.y.includes(1), `${d.name} has both classes`);
  const ref = pythonJson<SklearnResult[]>(SKLEARN, { datasets: data.map((d) => ({ y: d.y, s: d.s })), thresholds: THRESHOLDS });
  data.forEach((d, k) => {
    const r = ref[k]!;
    const ranked = rankedCounts(d.y, d.s);
    near(rocAuc(ranked), r.roc_auc, `${d.name} ROC-AUC`);
    near(averagePrecision(ranked), r.ap, `${d.name} average precision`);
    near(brierScore(d.y, d.s), r.brier, `${d.name} Brier`);
    THRESHOLDS.forEach((t, i) => {
      const m = thresholdMetrics(d.y, d.s, t);
      const [p, rec, f1] = r.at[i]!;
      near(m.precision, p, `${d.name} precision at ${t}`);
      near(m.recall, rec, `${d.name} recall at ${t}`);
      near(m.f1, f1, `${d.name} F1 at ${t}`);
    });
    const bins = calibrationBins(d.y, d.s).filter((b) => b.rows > 0);
    assert.equal(bins.length, r.prob_true.length, `${d.name}: same non-empty bins`);
    bins.forEach((b, i) => {
      near(b.observedRate, r.prob_true[i]!, `${d.name} calibration bin ${i} observed`);
      near(b.meanPredicted, r.prob_pred[i]!, `${d.name} calibration bin ${i} predicted`);
    });
  });
});

const NORM = String.raw`
import json, math, sys
from scipy.stats import norm
out = []
for xt, nt, xc, nc, conf in json.load(sys.stdin):
    pt, pc = xt / nt, xc / nc
    diff = pt - pc
    pooled = (xt + xc) / (nt + nc)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / nt + 1 / nc))   # statsmodels proportions_ztest (pooled variance)
    z = diff / se_pooled
    p = 2 * norm.sf(abs(z))
    se_unpooled = math.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)  # Wald interval of the difference (unpooled)
    q = norm.ppf(1 - (1 - conf) / 2)
    out.append({"diff": diff, "z": z, "p": p, "lo": diff - q * se_unpooled, "hi": diff + q * se_unpooled})
print(json.dumps(out))
`;

test("the experiment readout's z, p-value and confidence interval match scipy.stats.norm (1e-9)", () => {
  const cases: [number, number, number, number, number][] = [
    [80, 1000, 100, 1000, 0.95],
    [412, 5000, 503, 4870, 0.95],
    [3, 40, 9, 35, 0.9],
    [150, 2000, 151, 2010, 0.99],
    [10, 3000, 160, 3000, 0.95], // z ≈ −11: p far in the tail
    [57, 600, 30, 640, 0.8],
  ];
  const ref = pythonJson<{ diff: number; z: number; p: number; lo: number; hi: number }[]>(NORM, cases);
  cases.forEach(([xT, nT, xC, nC, confidence], k) => {
    // Through the readout itself: nT + nC customers assigned at 0, the first x of each arm cancel on day 1.
    const assignments: ArmAssignment[] = [];
    const labels = new Map<string, number[]>();
    for (const [arm, n, x] of [['treatment', nT, xT], ['control', nC, xC]] as const) {
      for (let i = 0; i < n; i++) {
        assignments.push({ customerId: `${arm}-${i}`, arm, assignedAt: 0, eventId: `${arm}-${i}` });
        if (i < x) labels.set(`${arm}-${i}`, [86_400_000]);
      }
    }
    const r = experimentReadout(assignments, labels, { horizonDays: 30, treatmentArm: 'treatment', controlArm: 'control', confidence, dataEnd: null });
    const e = ref[k]!;
    const what = `case ${k} (${xT}/${nT} vs ${xC}/${nC}, ${confidence})`;
    near(r.test.difference, e.diff, `${what} difference`);
    near(r.test.z, e.z, `${what} z`);
    near(r.test.pValue, e.p, `${what} p`);
    assert.ok(Math.abs(r.test.pValue! - e.p) <= TOL * e.p, `${what}: p relative error ${Math.abs(r.test.pValue! - e.p) / e.p}`);
    near(r.test.ci?.[0] ?? null, e.lo, `${what} CI low`);
    near(r.test.ci?.[1] ?? null, e.hi, `${what} CI high`);
    near(r.impliedCustomersSaved, -e.diff * nT, `${what} implied saved`);
  });
});
