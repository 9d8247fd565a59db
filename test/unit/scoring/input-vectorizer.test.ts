import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FeatureColumn } from '../../../src/features/compile-spec.js';
import { createInputVectorizer } from '../../../src/scoring/input-vectorizer.js';
import type { ModelManifest } from '../../../src/scoring/manifest.js';

const column = (name: string): FeatureColumn => ({ name, feature: name, missingIndicator: false, kind: 'numeric' });

test('input vectorizer: manifest order, imputation of NaN (rounded to float32 like the values), a missing indicator after its column; writes at the offset only', () => {
  const columns = ['a', 'b', 'c', 'd'].map(column);
  const features = [
    { name: 'c', impute: 0.1, missing_indicator: true },
    { name: 'a', impute: -2.5, missing_indicator: false },
    { name: 'd', impute: 1e40, missing_indicator: true },
    { name: 'b', impute: 7, missing_indicator: false },
  ];
  const v = createInputVectorizer(columns, { name: 'm', version: '1', features } as unknown as ModelManifest);
  assert.equal(v.width, 6);
  const out = new Float32Array(2 + 2 * v.width).fill(-1);
  v.write(Float64Array.from([1.1, Number.NaN, Number.NaN, 3]), out, 2);
  v.write(Float64Array.from([Number.NaN, 2, 0.3, Number.NaN]), out, 2 + v.width);
  const f = Math.fround;
  assert.deepEqual([...out], [-1, -1, f(0.1), 1, f(1.1), 3, 0, 7, f(0.3), 0, -2.5, Infinity, 1, 2]);
});

test('input vectorizer: a model feature the spec does not produce is refused', () => {
  const manifest = { name: 'm', version: '1', features: [{ name: 'zz', impute: 0, missing_indicator: false }] } as unknown as ModelManifest;
  assert.throws(() => createInputVectorizer([column('a')], manifest), /needs feature 'zz'/);
});
