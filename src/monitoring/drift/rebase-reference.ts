// A copy of a manifest whose reference shares (and missing shares, and score shares when scores are
// given) are recomputed from rows on the manifest's own bin edges. For re-baselining on a known-good
// period when the training reference does not describe the population the monitor sees (the bundled
// model's reference, for one, still contains rows whose 90-day windows were not yet full: see
// docs/monitoring.md). Not a way to silence drift: rebase on a period you have checked.
import type { FeatureColumn } from '../../features/compile-spec.js';
import type { ModelManifest, ReferenceBins } from '../../scoring/manifest.js';
import { binIndex } from './bins.js';

export interface RebasedReference {
  readonly manifest: ModelManifest;
  /**
   * Independent rows the new reference rests on — pass it as the monitor's referenceRows: the
   * distinct customers when their ids are given (rows of one customer on several days are one panel
   * member, not independent draws), else the rows.
   */
  readonly rows: number;
}

export function rebaseReference(
  manifest: ModelManifest,
  columns: readonly FeatureColumn[],
  rows: readonly ArrayLike<number>[],
  scores?: ArrayLike<number>,
  customerIds?: readonly string[],
): RebasedReference {
  const features: Record<string, ReferenceBins> = {};
  for (const [name, bins] of Object.entries(manifest.reference.features)) {
    const j = columns.findIndex((c) => c.name === name);
    if (j < 0) {
      features[name] = bins;
      continue;
    }
    features[name] = rebin(bins, rows.map((r) => r[j]!));
  }
  const score = scores === undefined ? manifest.reference.score : rebin(manifest.reference.score, Array.from(scores));
  const { missing_share: _unused, ...scoreBins } = score;
  const independent = customerIds === undefined ? rows.length : new Set(customerIds).size;
  return { manifest: { ...manifest, reference: { ...manifest.reference, features, score: scoreBins } }, rows: independent };
}

function rebin(bins: ReferenceBins, values: readonly number[]): ReferenceBins {
  const counts = new Array<number>(bins.edges.length + 1).fill(0);
  let missing = 0;
  for (const v of values) {
    if (Number.isNaN(v)) missing++;
    else counts[binIndex(bins.edges, v)]! += 1;
  }
  const present = values.length - missing;
  return {
    edges: [...bins.edges],
    shares: present > 0 ? counts.map((c) => c / present) : [...bins.shares],
    missing_share: values.length > 0 ? missing / values.length : (bins.missing_share ?? 0),
  };
}
