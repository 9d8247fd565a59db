// Two-sample Kolmogorov–Smirnov test on binned data: the live window and the reference are both held
// as bins (never raw values), so D is the largest gap between the two CDFs at the bin edges — exactly
// scipy.stats.ks_2samp's statistic on the binned representation (each value replaced by its bin).
// The p-value is the asymptotic Kolmogorov distribution at √(n·m/(n+m))·D with n the live values and
// m the reference's training rows (non-missing). Binning creates ties, which makes the test
// conservative (p-values too large), never anti-conservative.
import { liveAndReferenceTotals } from './bins.js';
import { kolmogorovSurvival } from './kolmogorov.js';

export interface KsResult {
  readonly statistic: number;
  readonly pValue: number;
  /** n·m/(n+m), the effective sample size of the two-sample test. */
  readonly effectiveN: number;
}

export function ksBinned(liveCounts: ArrayLike<number>, referenceShares: ArrayLike<number>, referenceN: number): KsResult {
  const k = referenceShares.length;
  const { n, total } = liveAndReferenceTotals(liveCounts, referenceShares);
  if (n <= 0 || total <= 0) return { statistic: Number.NaN, pValue: Number.NaN, effectiveN: 0 };
  let live = 0;
  let ref = 0;
  let d = 0;
  // The CDFs meet at 1 after the last bin, so only the k − 1 inner edges can hold the maximum.
  for (let i = 0; i < k - 1; i++) {
    live += (liveCounts[i] ?? 0) / n;
    ref += referenceShares[i]! / total;
    d = Math.max(d, Math.abs(live - ref));
  }
  const effectiveN = (n * referenceN) / (n + referenceN);
  return { statistic: d, pValue: kolmogorovSurvival(Math.sqrt(effectiveN) * d), effectiveN };
}
