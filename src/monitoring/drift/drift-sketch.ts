// The bounded summary of one slide slice: per monitored subject a count per reference bin plus a
// missing count, the score bins, the predicted positives, the row count — one flat Float64Array —
// and the names of unknown categories (capped). Raw values are never kept.
import { binIndex } from './bins.js';
import type { ReferenceProfile } from './reference-profile.js';

/** Distinct unknown category values remembered per feature and slice; beyond it only counted. */
export const MAX_NEW_CATEGORY_NAMES = 16;

export interface SketchLayout {
  /** Offset of each numeric subject: its bins, then one missing count. */
  readonly numeric: readonly number[];
  /** Offset of each category subject: known categories, __other, then one missing count. */
  readonly categories: readonly number[];
  /** Offset of the score bins, then scored count and count at or above the threshold; -1 without a score reference. */
  readonly score: number;
  readonly rows: number;
  readonly size: number;
}

export interface DriftSlice {
  readonly counts: Float64Array;
  /** Per category subject: unknown raw value → count. */
  readonly newValues: Map<string, number>[];
}

export function sketchLayout(profile: ReferenceProfile): SketchLayout {
  let at = 0;
  const numeric = profile.numeric.map((f) => {
    const o = at;
    at += f.shares.length + 1;
    return o;
  });
  const categories = profile.categories.map((c) => {
    const o = at;
    at += c.shares.length + 1;
    return o;
  });
  let score = -1;
  if (profile.score) {
    score = at;
    at += profile.score.shares.length + 2;
  }
  const rows = at++;
  return { numeric, categories, score, rows, size: at };
}

export function emptySlice(layout: SketchLayout, profile: ReferenceProfile): DriftSlice {
  return { counts: new Float64Array(layout.size), newValues: profile.categories.map(() => new Map()) };
}

export interface SampleRow {
  readonly row: ArrayLike<number>;
  /** NaN when the row was not scored. */
  readonly score: number;
  /** Raw category values by feature, if the caller has them (only used to name unknown categories). */
  readonly categories?: Readonly<Record<string, string | null>>;
}

export function addSample(slice: DriftSlice, layout: SketchLayout, profile: ReferenceProfile, sample: SampleRow): void {
  const c = slice.counts;
  const { row } = sample;
  c[layout.rows]! += 1;
  for (let i = 0; i < profile.numeric.length; i++) {
    const f = profile.numeric[i]!;
    const v = row[f.column]!;
    const o = layout.numeric[i]!;
    if (Number.isNaN(v)) c[o + f.shares.length]! += 1;
    else c[o + binIndex(f.edges, v)]! += 1;
  }
  for (let i = 0; i < profile.categories.length; i++) {
    const g = profile.categories[i]!;
    const o = layout.categories[i]!;
    const other = g.columns.length - 1;
    let hit = -1;
    for (let k = 0; k < g.columns.length; k++) {
      if (row[g.columns[k]!]! > 0.5) {
        hit = k;
        break;
      }
    }
    c[o + (hit < 0 ? g.columns.length : hit)]! += 1;
    if (hit === other) {
      const raw = sample.categories?.[g.name];
      if (typeof raw === 'string') {
        const names = slice.newValues[i]!;
        const seen = names.get(raw);
        if (seen !== undefined) names.set(raw, seen + 1);
        else if (names.size < MAX_NEW_CATEGORY_NAMES) names.set(raw, 1);
      }
    }
  }
  const s = profile.score;
  if (s && !Number.isNaN(sample.score)) {
    const o = layout.score;
    c[o + binIndex(s.edges, sample.score)]! += 1;
    c[o + s.shares.length]! += 1;
    if (sample.score >= s.threshold) c[o + s.shares.length + 1]! += 1;
  }
}

/** Sum of slices (a window). */
export function mergeSlices(slices: readonly DriftSlice[], layout: SketchLayout, categories: number): DriftSlice {
  const counts = new Float64Array(layout.size);
  const newValues = Array.from({ length: categories }, () => new Map<string, number>());
  for (const s of slices) {
    for (let i = 0; i < counts.length; i++) counts[i]! += s.counts[i]!;
    s.newValues.forEach((m, k) => {
      const into = newValues[k]!;
      for (const [name, n] of m) into.set(name, (into.get(name) ?? 0) + n);
    });
  }
  return { counts, newValues };
}
