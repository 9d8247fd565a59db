// What the monitor compares against, derived once per model from the manifest's reference bins and
// the spec's columns: numeric features (bins, missing share), category features (one share per known
// category plus __other, from the one-hot columns' bins), the score bins and the threshold.
import type { FeatureColumn } from '../../features/compile-spec.js';
import type { ModelManifest, ReferenceBins } from '../../scoring/manifest.js';
import { shareAbove, sum } from './bins.js';

export interface NumericReference {
  readonly name: string;
  /** Index of the feature in a spec row. */
  readonly column: number;
  readonly edges: Float64Array;
  /** Over non-missing values, normalised to sum 1. */
  readonly shares: Float64Array;
  readonly missingShare: number;
}

export interface CategoryReference {
  /** The spec's category feature (e.g. `plan`). */
  readonly name: string;
  /** Row indices of its one-hot columns: the known categories in spec order, then `__other`. */
  readonly columns: readonly number[];
  readonly categories: readonly string[];
  /** One share per column (known categories, then __other), over non-missing rows. */
  readonly shares: Float64Array;
  /** Rows whose one-hot columns are all 0 (no value). */
  readonly missingShare: number;
}

export interface ScoreReference {
  readonly edges: Float64Array;
  readonly shares: Float64Array;
  readonly threshold: number;
  /** Reference share of scores at or above the threshold (interpolated inside its bin). */
  readonly shareAboveThreshold: number;
}

export interface ReferenceProfile {
  readonly modelName: string;
  readonly modelVersion: string;
  /** manifest created_at, epoch ms (NaN if unparseable). */
  readonly createdAt: number;
  readonly numeric: readonly NumericReference[];
  readonly categories: readonly CategoryReference[];
  readonly score: ScoreReference | null;
  /** Rows behind the reference (the m of the two-sample tests). */
  readonly referenceRows: number;
  readonly validationRecall: number | null;
  /** Spec columns the manifest has no reference for (not monitored). */
  readonly unmonitored: readonly string[];
}

export function referenceProfile(columns: readonly FeatureColumn[], manifest: ModelManifest, referenceRows?: number): ReferenceProfile {
  const ref = manifest.reference.features;
  const numeric: NumericReference[] = [];
  const unmonitored: string[] = [];
  columns.forEach((c, i) => {
    if (c.kind !== 'numeric') return;
    const bins = ref[c.name];
    if (!bins || bins.shares.length !== bins.edges.length + 1) {
      unmonitored.push(c.name);
      return;
    }
    numeric.push({ name: c.name, column: i, edges: Float64Array.from(bins.edges), shares: normalised(bins.shares), missingShare: bins.missing_share ?? 0 });
  });

  const categories: CategoryReference[] = [];
  const groups = new Map<string, number[]>();
  columns.forEach((c, i) => {
    if (c.kind !== 'indicator') return;
    const g = groups.get(c.feature) ?? [];
    g.push(i);
    groups.set(c.feature, g);
  });
  const impute = new Map(manifest.features.map((f) => [f.name, f.impute]));
  for (const [feature, idx] of groups) {
    const names = idx.map((i) => columns[i]!.name);
    const bins = names.map((n) => ref[n]);
    if (bins.some((b) => b === undefined)) {
      unmonitored.push(...names);
      continue;
    }
    const ones = bins.map((b, k) => shareOfOnes(b!, impute.get(names[k]!) ?? 0));
    const present = ones.reduce((a, b) => a + b, 0);
    categories.push({
      name: feature,
      columns: idx,
      categories: names.slice(0, -1).map((n) => n.slice(feature.length + 2)),
      shares: present > 0 ? Float64Array.from(ones.map((x) => x / present)) : Float64Array.from(ones),
      missingShare: Math.min(1, Math.max(0, 1 - present)),
    });
  }

  const threshold = manifest.decision.threshold;
  const s = manifest.reference.score;
  const score: ScoreReference | null =
    s.shares.length === s.edges.length + 1
      ? { edges: Float64Array.from(s.edges), shares: normalised(s.shares), threshold, shareAboveThreshold: shareAbove(s.edges, normalised(s.shares), threshold, 0, 1) }
      : null;

  return {
    modelName: manifest.name,
    modelVersion: manifest.version,
    createdAt: Date.parse(manifest.created_at),
    numeric,
    categories,
    score,
    referenceRows: referenceRows ?? manifestReferenceRows(manifest),
    validationRecall: manifest.metrics.validation.recall ?? null,
    unmonitored,
  };
}

/** The trainer builds the reference from the train split: metrics.train.rows, else training_data.rows. */
export function manifestReferenceRows(manifest: ModelManifest): number {
  const train: unknown = (manifest.metrics as Record<string, unknown>)['train'];
  if (isRecord(train) && typeof train['rows'] === 'number' && train['rows'] > 0) return train['rows'];
  const all = (manifest.training_data as Record<string, unknown>)['rows'];
  if (typeof all === 'number' && all > 0) return all;
  return manifest.metrics.validation.rows ?? 10_000;
}

/**
 * Share of 1s of a 0/1 indicator column from its bins: the bins above an edge ≥ 0 hold the 1s
 * (the trainer cuts {0, 1} at edge 0). A constant column has no edges and one bin; its value is the
 * training median, i.e. the manifest's impute value.
 */
export function shareOfOnes(bins: ReferenceBins, constantValue: number): number {
  if (bins.edges.length === 0) return constantValue >= 0.5 ? 1 - (bins.missing_share ?? 0) : 0;
  let ones = 0;
  for (let i = 1; i < bins.shares.length; i++) if (bins.edges[i - 1]! >= 0) ones += bins.shares[i]!;
  return ones * (1 - (bins.missing_share ?? 0));
}

function normalised(shares: readonly number[]): Float64Array {
  const total = sum(shares);
  return Float64Array.from(shares, (x) => (total > 0 ? x / total : x));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
