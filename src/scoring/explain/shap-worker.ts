// Worker thread: the WebAssembly TreeSHAP pass (wasm-tree-shap.ts) built from the main thread's plan;
// model input rows in, their contributions (width + 1 a row, bias last) out. explainer.ts hands it part
// of a batch's published rows (model.workerShare).
import { workerData } from 'node:worker_threads';
import { serveRows } from '../row-worker-thread.js';
import type { LinearTreeShapPlan } from './linear-tree-shap-plan.js';
import { compileWasmTreeShap } from './wasm-tree-shap.js';

export interface ShapWorkerData {
  readonly plan: LinearTreeShapPlan;
  readonly width: number;
  readonly expectedValue: number;
}

const { plan, width, expectedValue } = workerData as ShapWorkerData;
const shap = compileWasmTreeShap(plan, width, expectedValue);
serveRows((rows, n) => {
  const out = new Float64Array(n * (width + 1));
  shap.contributionsBatch(rows, n, out);
  return out;
});
