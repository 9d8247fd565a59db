// The statistics of one closed window against the reference profile: per numeric feature PSI, KS and
// missing rate; per category feature PSI, chi-square, missing rate and unknown categories; for the
// score PSI, KS and the predicted-positive rate. Pure: window counts in, findings out.
import { sum } from './bins.js';
import { chiSquareTwoSample } from './chi-square.js';
import type { DriftMonitorOptions } from './drift-options.js';
import type { DriftSlice, SketchLayout } from './drift-sketch.js';
import { ksBinned } from './ks-binned.js';
import { psi, PSI_EPSILON } from './psi.js';
import type { ReferenceProfile } from './reference-profile.js';
import { missingRateSeverity, newCategorySeverity, positiveRateSeverity, psiSeverity, testSeverity, type Severity } from './severity.js';

export type SubjectKind = 'feature' | 'score' | 'new_category';

export interface Finding {
  /** Feature name, `score`, `predicted_positive_rate`, or `<feature>=<value>` for a named unknown category. */
  readonly subject: string;
  readonly kind: SubjectKind;
  /** psi | ks | missing_rate | chi_square | new_category_count | rate. */
  readonly statistic: string;
  readonly value: number;
  readonly pValue: number | null;
  readonly severity: Severity;
  readonly sampleSize: number;
}

export function dataDriftFindings(profile: ReferenceProfile, layout: SketchLayout, window: DriftSlice, o: DriftMonitorOptions): Finding[] {
  const c = window.counts;
  const rows = c[layout.rows]!;
  const out: Finding[] = [];
  if (rows < o.minSamples) return out;
  const m = profile.referenceRows;

  profile.numeric.forEach((f, i) => {
    const at = layout.numeric[i]!;
    const bins = c.subarray(at, at + f.shares.length);
    const missing = c[at + f.shares.length]!;
    out.push(missingFinding(f.name, missing, rows, f.missingShare, m, o));
    const n = sum(bins);
    if (n < o.minSamples) return;
    const p = psi(bins, f.shares);
    out.push({ subject: f.name, kind: 'feature', statistic: 'psi', value: p, pValue: null, severity: psiSeverity(p, o), sampleSize: n });
    const ks = ksBinned(bins, f.shares, m * (1 - f.missingShare));
    out.push({ subject: f.name, kind: 'feature', statistic: 'ks', value: ks.statistic, pValue: ks.pValue, severity: testSeverity(ks.statistic, ks.pValue, o), sampleSize: n });
  });

  profile.categories.forEach((g, i) => {
    const at = layout.categories[i]!;
    const k = g.shares.length;
    const bins = c.subarray(at, at + k);
    const missing = c[at + k]!;
    out.push(missingFinding(g.name, missing, rows, g.missingShare, m, o));
    const n = sum(bins);
    if (n < o.minSamples) return;
    const p = psi(bins, g.shares);
    out.push({ subject: g.name, kind: 'feature', statistic: 'psi', value: p, pValue: null, severity: psiSeverity(p, o), sampleSize: n });
    const chi = chiSquareTwoSample(bins, g.shares, m * (1 - g.missingShare));
    out.push({ subject: g.name, kind: 'feature', statistic: 'chi_square', value: chi.statistic, pValue: chi.pValue, severity: testSeverity(totalVariation(bins, g.shares), chi.pValue, o), sampleSize: n });
    // Values outside the known categories land in __other (the last column).
    const unknown = bins[k - 1]!;
    if (g.shares[k - 1]! <= PSI_EPSILON) {
      out.push({ subject: g.name, kind: 'feature', statistic: 'new_category_count', value: unknown, pValue: null, severity: newCategorySeverity(unknown, n, o), sampleSize: n });
      const names = [...window.newValues[i]!.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      for (const [name, count] of names) {
        out.push({ subject: `${g.name}=${name}`, kind: 'new_category', statistic: 'new_category_count', value: count, pValue: null, severity: newCategorySeverity(count, n, o), sampleSize: n });
      }
    }
  });

  const s = profile.score;
  if (s) {
    const at = layout.score;
    const bins = c.subarray(at, at + s.shares.length);
    const scored = c[at + s.shares.length]!;
    const above = c[at + s.shares.length + 1]!;
    if (scored >= o.minSamples) {
      const p = psi(bins, s.shares);
      out.push({ subject: 'score', kind: 'score', statistic: 'psi', value: p, pValue: null, severity: psiSeverity(p, o), sampleSize: scored });
      const ks = ksBinned(bins, s.shares, m);
      out.push({ subject: 'score', kind: 'score', statistic: 'ks', value: ks.statistic, pValue: ks.pValue, severity: testSeverity(ks.statistic, ks.pValue, o), sampleSize: scored });
      const rate = above / scored;
      const test = chiSquareTwoSample([above, scored - above], [s.shareAboveThreshold, 1 - s.shareAboveThreshold], m);
      out.push({ subject: 'predicted_positive_rate', kind: 'score', statistic: 'rate', value: rate, pValue: test.pValue, severity: positiveRateSeverity(rate, s.shareAboveThreshold, test.pValue, o), sampleSize: scored });
    }
  }
  return out;
}

/** The missing rate against missing_share; its p-value is the two-proportion test (χ², 1 dof). */
function missingFinding(name: string, missing: number, rows: number, referenceShare: number, m: number, o: DriftMonitorOptions): Finding {
  const rate = missing / rows;
  const test = chiSquareTwoSample([missing, rows - missing], [referenceShare, 1 - referenceShare], m);
  const pValue = Number.isNaN(test.pValue) ? 1 : test.pValue;
  return { subject: name, kind: 'feature', statistic: 'missing_rate', value: rate, pValue, severity: missingRateSeverity(rate - referenceShare, pValue, o), sampleSize: rows };
}

/** ½ Σ |p_i − q_i|: the categorical counterpart of KS's D, the effect size gating chi-square. */
export function totalVariation(counts: ArrayLike<number>, shares: ArrayLike<number>): number {
  const n = sum(counts);
  if (n <= 0) return 0;
  let d = 0;
  for (let i = 0; i < shares.length; i++) d += Math.abs(counts[i]! / n - shares[i]!);
  return d / 2;
}

/** Features (not score subjects) with at least one statistic at alert severity. */
export function featuresInAlert(findings: readonly Finding[]): string[] {
  const out = new Set<string>();
  for (const f of findings) if (f.kind === 'feature' && f.severity === 'alert') out.add(f.subject);
  return [...out].sort();
}
