// Worker thread: the generated tree walk (wasm-margin-kernel.ts) instantiated from the main thread's
// module bytes; rows in, their float32 margins out (tree-scorer.ts splits large batches with it).
import { workerData } from 'node:worker_threads';
import { serveRows } from '../row-worker-thread.js';
import { marginKernelOf } from './wasm-margin-kernel.js';

export interface MarginWorkerData {
  readonly bytes: Uint8Array;
  readonly width: number;
}

const { bytes, width } = workerData as MarginWorkerData;
const kernel = marginKernelOf(bytes, width);
serveRows((rows, n) => {
  kernel.input(n).set(rows.subarray(0, n * width));
  return kernel.margins(n).slice();
});
