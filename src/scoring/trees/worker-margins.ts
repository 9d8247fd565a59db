// A second thread for the tree walk. The engine's main thread runs everything else (the Kafka client,
// decoding, state, features, deciding) and is what bounds `churnflow run`; the machine's other cores
// sit mostly idle. A large batch's margins are split: the worker thread walks the trees for the tail
// rows while the main thread walks them for the head, both with the same generated module, so every
// margin is the one a single thread computes, bit for bit. Small batches (latency: a round trip to
// the worker costs ≈0.1 ms) and a failed worker stay on the main thread.
import { Worker } from 'node:worker_threads';
import { ChurnflowError } from '../../errors.js';
import type { MarginReply, MarginRequest, MarginWorkerData } from './margin-worker.js';

interface Waiting {
  resolve(margins: Float32Array): void;
  reject(err: Error): void;
}

export class MarginWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private broken: Error | undefined;
  private closing = false;

  constructor(bytes: Uint8Array, width: number) {
    const data: MarginWorkerData = { bytes, width };
    // execArgv: none of the parent's (`node -e …` or `--cpu-prof` would apply to this thread too; it only walks trees).
    this.worker = new Worker(new URL('./margin-worker.js', import.meta.url), { workerData: data, execArgv: [] });
    // Referenced only while a call waits on it: an idle scorer must not keep a finished command alive.
    this.worker.unref();
    this.worker.on('message', (reply: MarginReply) => this.settle(reply));
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the scoring worker thread exited (code ${code})`)));
  }

  /** False once the thread failed or was closed: callers walk every row themselves then. */
  get usable(): boolean {
    return this.broken === undefined && !this.closing;
  }

  /** The margins of n rows (n × width, row-major, copied to the worker: the caller's stay usable). */
  margins(rows: Float32Array, n: number): Promise<Float32Array> {
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    const request: MarginRequest = { id, n, rows };
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      if (this.waiting.size === 1) this.worker.ref();
      this.worker.postMessage(request);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.worker.terminate();
  }

  private settle(reply: MarginReply): void {
    const w = this.waiting.get(reply.id);
    if (w === undefined) return;
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker.unref();
    if ('error' in reply) w.reject(new ChurnflowError('CF_SCORING_FAILED', `the scoring worker thread failed: ${reply.error}`, { retriable: true }));
    else w.resolve(reply.margins);
  }

  private fail(err: Error): void {
    if (this.broken === undefined) this.broken = this.closing ? new Error('the scoring worker thread was closed') : err;
    for (const w of this.waiting.values()) w.reject(this.broken);
    this.waiting.clear();
    this.worker.unref();
  }
}
