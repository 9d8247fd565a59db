// Chi-square test of live category counts against the reference, as a two-sample test of homogeneity
// (a 2 × k contingency table: live counts, reference shares × reference rows), so a category the
// reference never saw (a new plan) gives a finite statistic instead of a division by zero. Same
// numbers as scipy.stats.chi2_contingency(table, correction=False). The p-value is the chi-square
// survival function, Q(dof/2, x/2) (regularised upper incomplete gamma), written here for the same
// reason as kolmogorov.ts and checked against scipy.stats.chi2.sf.

import { liveAndReferenceTotals } from './bins.js';
export interface ChiSquareResult {
  readonly statistic: number;
  readonly dof: number;
  readonly pValue: number;
}

export function chiSquareTwoSample(liveCounts: ArrayLike<number>, referenceShares: ArrayLike<number>, referenceN: number): ChiSquareResult {
  const k = referenceShares.length;
  const { n, total } = liveAndReferenceTotals(liveCounts, referenceShares);
  if (n <= 0 || total <= 0 || referenceN <= 0) return { statistic: Number.NaN, dof: 0, pValue: Number.NaN };
  const grand = n + referenceN;
  let x = 0;
  let columns = 0;
  for (let i = 0; i < k; i++) {
    const o = liveCounts[i] ?? 0;
    const r = (referenceShares[i]! / total) * referenceN;
    const col = o + r;
    if (col <= 0) continue; // a category neither side has: no column
    columns++;
    const eLive = (col * n) / grand;
    const eRef = (col * referenceN) / grand;
    x += ((o - eLive) * (o - eLive)) / eLive + ((r - eRef) * (r - eRef)) / eRef;
  }
  const dof = columns - 1;
  return { statistic: x, dof, pValue: dof > 0 ? chiSquareSurvival(x, dof) : 1 };
}

/** P(X > x) for X ~ χ²(dof). */
export function chiSquareSurvival(x: number, dof: number): number {
  if (!(x > 0)) return 1;
  return upperGammaRegularized(dof / 2, x / 2);
}

/** Q(a, x) = Γ(a, x) / Γ(a): series for P below a + 1, Lentz's continued fraction above (Numerical Recipes §6.2). */
export function upperGammaRegularized(a: number, x: number): number {
  if (x <= 0) return 1;
  const logPrefix = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) {
    let term = 1 / a;
    let s = term;
    for (let k = 1; k < 10_000; k++) {
      term *= x / (a + k);
      s += term;
      if (Math.abs(term) < Math.abs(s) * 1e-17) break;
    }
    return Math.min(1, Math.max(0, 1 - s * Math.exp(logPrefix)));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.min(1, Math.max(0, Math.exp(logPrefix) * h));
}

// Lanczos approximation (g = 7, 9 coefficients): ~1e-15 relative for a > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function logGamma(z: number): number {
  if (z < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * z))) - logGamma(1 - z);
  const x = z - 1;
  let a = LANCZOS[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}
