// Maps a feature row (spec columns, NaN = missing) to the model's input row: manifest order, imputed
// with the manifest's values, missing indicators set. Serving data never decides an imputation value.
import { ChurnflowError } from '../errors.js';
import type { FeatureColumn } from '../features/compile-spec.js';
import type { ModelManifest } from './manifest.js';

export interface InputVectorizer {
  readonly width: number;
  /** Writes the model row for `features` into `out` at `offset`. */
  write(features: Float64Array, out: Float32Array, offset: number): void;
}

export function createInputVectorizer(columns: readonly FeatureColumn[], manifest: ModelManifest): InputVectorizer {
  const index = new Map(columns.map((c, i) => [c.name, i]));
  const plan = manifest.features.map((f) => {
    const i = index.get(f.name);
    if (i === undefined) {
      throw new ChurnflowError('CF_MODEL_SPEC_MISMATCH', `model ${manifest.name}@${manifest.version} needs feature '${f.name}', which the feature spec does not produce`);
    }
    return { source: i, impute: f.impute, indicator: f.missing_indicator };
  });
  const width = plan.reduce((n, p) => n + (p.indicator ? 2 : 1), 0);
  // The plan as parallel typed arrays: one monomorphic loop over numbers per row, instead of a
  // for…of over plan objects (an iterator and property loads per column, per event).
  const source = Int32Array.from(plan, (p) => p.source);
  const impute = Float64Array.from(plan, (p) => p.impute);
  const indicator = Uint8Array.from(plan, (p) => (p.indicator ? 1 : 0));
  const planLength = plan.length;
  return {
    width,
    write(features, out, offset) {
      let j = offset;
      for (let c = 0; c < planLength; c++) {
        const v = features[source[c]!]!;
        const missing = Number.isNaN(v);
        out[j++] = missing ? impute[c]! : v;
        if (indicator[c] === 1) out[j++] = missing ? 1 : 0;
      }
    },
  };
}
