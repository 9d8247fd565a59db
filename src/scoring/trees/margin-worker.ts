// Worker thread: the generated tree walk (wasm-margin-kernel.ts) instantiated from the main thread's
// compiled module; rows in, their float32 margins out (tree-scorer.ts splits large batches with it).
import { workerData } from 'node:worker_threads';
import { serveRows } from '../row-worker-thread.js';
import { marginKernelOf } from './wasm-margin-kernel.js';

export interface MarginWorkerData {
  /** The main thread's compiled module (WebAssembly.Module): its code is shared, not compiled again. */
  readonly module: object;
  readonly width: number;
}

const { module, width } = workerData as MarginWorkerData;
const kernel = marginKernelOf(module, width);
serveRows((rows, n) => {
  kernel.input(n).set(rows.subarray(0, n * width));
  return kernel.margins(n).slice();
});
