// Fixtures for the monitoring tests: the bundled model's manifest, the default spec's columns, a
// seeded random source, and rows drawn from a reference profile (optionally shifted).
import { readFileSync } from 'node:fs';
import type { FeatureColumn } from '../../../src/features/compile-spec.js';
import type { ReferenceProfile } from '../../../src/monitoring/drift/reference-profile.js';
import { manifestSchema, type ModelManifest } from '../../../src/scoring/manifest.js';
import { churnSpec } from './simulated-observations.js';
import { join } from 'node:path';
import { BUNDLED_MODEL } from '../../../src/scoring/bundled-model.js';
import { rng } from '../../helpers/rng.js';

export { rng };

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const T0 = Date.UTC(2027, 0, 4);

export function bundledManifest(): ModelManifest {
  return manifestSchema.parse(JSON.parse(readFileSync(join(BUNDLED_MODEL, 'manifest.json'), 'utf8')));
}

export function churnColumns(): readonly FeatureColumn[] {
  return churnSpec().columns;
}


function pick(shares: ArrayLike<number>, u: number): number {
  let acc = 0;
  for (let i = 0; i < shares.length; i++) {
    acc += shares[i]!;
    if (u < acc) return i;
  }
  return shares.length - 1;
}

/** A value inside bin b: its upper edge (bins are closed above), or past the last edge. */
export function valueInBin(edges: ArrayLike<number>, b: number): number {
  return b < edges.length ? edges[b]! : (edges[edges.length - 1] ?? 0) + 1;
}

export interface RowOptions {
  /** Move a numeric feature's values this many bins up (clamped). */
  readonly shiftBins?: Readonly<Record<string, number>>;
  /** Force a category (a known one, or 'other' for an unknown value). */
  readonly category?: Readonly<Record<string, string>>;
  /** Missing probability per numeric feature, overriding the reference's. */
  readonly missing?: Readonly<Record<string, number>>;
}

/** A spec row drawn from the reference (one bin per numeric feature, one category per group). */
export function referenceRow(profile: ReferenceProfile, width: number, r: () => number, o: RowOptions = {}): Float64Array {
  const row = new Float64Array(width);
  for (const f of profile.numeric) {
    const miss = o.missing?.[f.name] ?? f.missingShare;
    if (r() < miss) {
      row[f.column] = Number.NaN;
      continue;
    }
    const b = Math.min(f.shares.length - 1, pick(f.shares, r()) + (o.shiftBins?.[f.name] ?? 0));
    row[f.column] = valueInBin(f.edges, b);
  }
  for (const g of profile.categories) {
    for (const c of g.columns) row[c] = 0;
    const forced = o.category?.[g.name];
    const k = forced === undefined ? pick(g.shares, r()) : forced === 'other' ? g.columns.length - 1 : g.categories.indexOf(forced);
    row[g.columns[k]!] = 1;
  }
  return row;
}
