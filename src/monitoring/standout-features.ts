// Which of a customer's features stand out against the model's training reference: the value's
// position in the reference distribution (from the manifest's bins), most extreme first.
import type { ReferenceBins } from '../scoring/manifest.js';

export interface Standout {
  readonly feature: string;
  readonly value: number;
  /** Share of training values at or below this value (0..1), interpolated within its bin. */
  readonly percentile: number;
}

/** Reference CDF at v: shares of the bins below v's bin, plus half of its own bin. */
export function referencePercentile(bins: ReferenceBins, v: number): number {
  let below = 0;
  for (let i = 0; i < bins.shares.length; i++) {
    const upper = i < bins.edges.length ? bins.edges[i]! : Number.POSITIVE_INFINITY;
    const share = bins.shares[i]!;
    if (v <= upper) return below + share / 2;
    below += share;
  }
  return 1;
}

export function standoutFeatures(
  names: readonly string[],
  values: Float64Array,
  reference: Readonly<Record<string, ReferenceBins>>,
  options: { limit?: number; tail?: number } = {},
): Standout[] {
  const tail = options.tail ?? 0.1;
  const out: Standout[] = [];
  names.forEach((name, i) => {
    const bins = reference[name];
    const v = values[i]!;
    if (!bins || Number.isNaN(v) || bins.edges.length === 0) return;
    const p = referencePercentile(bins, v);
    if (p <= tail || p >= 1 - tail) out.push({ feature: name, value: v, percentile: p });
  });
  out.sort((a, b) => Math.abs(b.percentile - 0.5) - Math.abs(a.percentile - 0.5) || (a.feature < b.feature ? -1 : 1));
  return out.slice(0, options.limit ?? 3);
}
