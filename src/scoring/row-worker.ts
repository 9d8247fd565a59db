// A worker thread that computes something per row of a float32 matrix: the generated tree walk
// (trees/margin-worker.ts) and TreeSHAP (explain/shap-worker.ts). The engine's main thread runs
// everything else (the Kafka client, decoding, state, features, deciding) and bounds `churnflow run`;
// these two kernels are pure functions of the rows, so part of a batch's rows can be computed on
// another core with the same module and give the same bits. One class for both, so both start, fail
// and stop the same way.
import { Worker } from 'node:worker_threads';
import { ChurnflowError } from '../errors.js';
import { READY, type RowReply, type RowRequest } from './row-worker-thread.js';

interface Waiting<Out> {
  resolve(out: Out): void;
  reject(err: Error): void;
}

export class RowWorker<Out extends Float32Array | Float64Array> {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting<Out>>();
  private nextId = 1;
  private broken: Error | undefined;
  private closing = false;
  private readyNow: ((ok: boolean) => void) | undefined;
  /**
   * True once the thread has built its kernel, false if it failed first. Model loading waits for it,
   * so the thread's start-up (its kernel, the TreeSHAP plan copied in) is paid at load, like the main
   * thread's, not by the first batches.
   */
  readonly ready: Promise<boolean>;

  /** script: the worker's module (row-worker-thread.ts's serveRows); data: what it builds its kernel from. */
  constructor(
    script: URL,
    data: unknown,
    private readonly what: string,
    /** Told once when the thread fails (not when it is closed): the rows go to the calling thread from then on. */
    private readonly onFailure?: (err: Error) => void,
  ) {
    this.ready = new Promise((resolve) => (this.readyNow = resolve));
    // execArgv: none of the parent's (`node -e …` or `--cpu-prof` would apply to this thread too).
    this.worker = new Worker(script, { workerData: data, execArgv: [] });
    // Referenced until it is ready (someone awaits that), then only while a call waits on it: an idle
    // worker must not keep a finished command alive.
    this.worker.on('message', (reply: RowReply | typeof READY) => {
      if (reply === READY) {
        this.readyNow?.(true);
        if (this.waiting.size === 0) this.worker.unref();
      } else this.settle(reply);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the ${what} worker thread exited (code ${code})`)));
  }

  /** False once the thread failed or was closed: callers compute every row themselves then. */
  get usable(): boolean {
    return this.broken === undefined && !this.closing;
  }

  /** Why the thread is unusable (undefined while usable). */
  get failure(): string | undefined {
    return this.closing ? 'closed' : this.broken?.message;
  }

  /** The output for n rows (n × width, row-major; copied to the worker, so the caller's stay usable). */
  run(rows: Float32Array, n: number): Promise<Out> {
    if (!this.usable) return Promise.reject(this.broken ?? new Error(`the ${this.what} worker thread was closed`));
    const id = this.nextId++;
    const request: RowRequest = { id, n, rows };
    return new Promise<Out>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) this.worker.ref();
      this.worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }

  private settle(reply: RowReply): void {
    const w = this.waiting.get(reply.id);
    if (w === undefined) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if ('error' in reply) w.reject(new ChurnflowError('CF_SCORING_FAILED', `the ${this.what} worker thread failed: ${reply.error}`, { retriable: true }));
    else w.resolve(reply.out as Out);
  }

  private fail(err: Error): void {
    this.readyNow?.(false);
    if (this.broken === undefined) {
      this.broken = this.closing ? new Error(`the ${this.what} worker thread was closed`) : err;
      if (!this.closing) this.onFailure?.(err);
    }
    for (const w of this.waiting.values()) w.reject(this.broken);
    this.waiting.clear();
    this.worker.unref();
  }
}
