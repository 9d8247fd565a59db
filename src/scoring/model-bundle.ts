// Loads a model bundle (manifest.json + model.onnx) and refuses one that does not fit this engine:
// wrong feature-spec hash, input columns that disagree with the manifest's own features, bad bands.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ChurnflowError, errorMessage } from '../errors.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import { expectedInputColumns, manifestSchema, type ModelManifest } from './manifest.js';

export interface ModelBundle {
  readonly dir: string;
  readonly manifest: ModelManifest;
  readonly onnxPath: string;
}

export async function readManifest(dir: string): Promise<ModelManifest> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  } catch (err) {
    throw new ChurnflowError('CF_MODEL_INVALID', `cannot read ${join(dir, 'manifest.json')}: ${errorMessage(err)}`, { cause: err });
  }
  const res = manifestSchema.safeParse(raw);
  if (!res.success) {
    const issues = res.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ChurnflowError('CF_MODEL_INVALID', `invalid manifest in ${dir}: ${issues}`);
  }
  const m = res.data;
  const expected = expectedInputColumns(m.features);
  if (expected.join('\u0000') !== m.input_columns.join('\u0000')) {
    throw new ChurnflowError('CF_MODEL_INVALID', `manifest ${dir}: input_columns disagree with features (expected ${expected.length} columns derived from features, found ${m.input_columns.length})`);
  }
  const mins = m.decision.bands.map((b) => b.min_score);
  if (mins[0] !== 0 || mins.some((v, i) => i > 0 && v <= mins[i - 1]!)) {
    throw new ChurnflowError('CF_MODEL_INVALID', `manifest ${dir}: decision.bands must start at min_score 0 and increase strictly`);
  }
  return m;
}

/** Reads and checks a bundle against the engine's compiled feature spec. */
export async function loadModelBundle(dir: string, spec: CompiledSpec): Promise<ModelBundle> {
  const manifest = await readManifest(dir);
  if (manifest.feature_spec_hash !== spec.hash) {
    throw new ChurnflowError(
      'CF_MODEL_SPEC_MISMATCH',
      `model ${manifest.name}@${manifest.version} was trained on feature spec ${manifest.feature_spec_hash}, but this engine runs spec '${spec.spec.name}' ${spec.hash}; retrain the model on this spec or run the spec it was trained on`,
    );
  }
  return { dir, manifest, onnxPath: join(dir, manifest.onnx.file) };
}
