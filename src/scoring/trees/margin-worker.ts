// The worker thread's side of a split scoring call (worker-margins.ts): the same generated module as
// the main thread's, instantiated here from its bytes; rows in, their float32 margins out. Nothing
// else runs on this thread, so a call's rows are the only ones in the module's memory.
import { parentPort, workerData } from 'node:worker_threads';
import { marginKernelOf } from './wasm-margin-kernel.js';

export interface MarginWorkerData {
  readonly bytes: Uint8Array;
  readonly width: number;
}

export interface MarginRequest {
  readonly id: number;
  readonly n: number;
  /** n × width float32, row-major (a copy: the caller keeps its own, to score on its thread should this one fail). */
  readonly rows: Float32Array;
}

export type MarginReply =
  | { readonly id: number; readonly margins: Float32Array }
  | { readonly id: number; readonly error: string };

const port = parentPort;
if (port === null) throw new Error('margin-worker.js runs as a worker thread (worker-margins.ts starts it)');
const { bytes, width } = workerData as MarginWorkerData;
const kernel = marginKernelOf(bytes, width);

port.on('message', ({ id, n, rows }: MarginRequest) => {
  try {
    kernel.input(n).set(rows.subarray(0, n * width));
    const margins = kernel.margins(n).slice();
    const reply: MarginReply = { id, margins };
    port.postMessage(reply, [margins.buffer as ArrayBuffer]);
  } catch (err) {
    port.postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies MarginReply);
  }
});
