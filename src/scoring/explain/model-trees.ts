// A bundle's model.onnx read and parsed into its tree ensemble once per load: the explainer (TreeSHAP)
// and the generated scorer both walk the same trees, and parsing the bundled 290-tree model takes
// ≈46 ms, so loadScoringModel hands one parse to both. A parse failure is kept, not thrown: the two
// readers apply different policies to it (the explainer fails the load; the scorer falls back to
// onnxruntime and records why).
import { readFile } from 'node:fs/promises';
import { ChurnflowError, errorMessage } from '../../errors.js';
import type { ModelBundle } from '../model-bundle.js';
import { buildTreeEnsemble, parseTreeEnsembleAttributes, type TreeEnsemble, type TreeEnsembleAttributes } from './onnx-tree-ensemble.js';

export type ModelTrees =
  | { readonly ok: true; readonly attributes: TreeEnsembleAttributes; readonly ensemble: TreeEnsemble }
  | { readonly ok: false; readonly error: unknown };

/** Reads and parses the bundle's trees. An unreadable file throws CF_MODEL_INVALID (nobody can score it); a parse failure is returned. */
export async function readModelTrees(bundle: ModelBundle): Promise<ModelTrees> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(bundle.onnxPath);
  } catch (err) {
    throw new ChurnflowError('CF_MODEL_INVALID', `cannot read ${bundle.onnxPath}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const { attributes, covers } = parseTreeEnsembleAttributes(bytes, bundle.onnxPath);
    return { ok: true, attributes, ensemble: buildTreeEnsemble(attributes, covers, bundle.onnxPath) };
  } catch (err) {
    return { ok: false, error: err };
  }
}
