// The worker thread's side of row-worker.ts: says it is ready once its kernel is built (the module
// ran up to serveRows), then answers each request with compute(rows, n), the output's buffer
// transferred back. Nothing else runs on the thread, so a kernel's memory holds one
// call's rows at a time.
import { parentPort } from 'node:worker_threads';

export interface RowRequest {
  readonly id: number;
  readonly n: number;
  /** n × width float32, row-major. */
  readonly rows: Float32Array;
}

export type RowReply = { readonly id: number; readonly out: Float32Array | Float64Array } | { readonly id: number; readonly error: string };

/** Posted once, when the kernel is built: the thread is ready for rows. */
export const READY = 'ready';

export function serveRows(compute: (rows: Float32Array, n: number) => Float32Array | Float64Array): void {
  const port = parentPort;
  if (port === null) throw new Error('a row worker module runs as a worker thread (row-worker.ts starts it)');
  port.postMessage(READY);
  port.on('message', ({ id, n, rows }: RowRequest) => {
    try {
      const out = compute(rows, n);
      port.postMessage({ id, out } satisfies RowReply, [out.buffer as ArrayBuffer]);
    } catch (err) {
      port.postMessage({ id, error: err instanceof Error ? err.message : String(err) } satisfies RowReply);
    }
  });
}
