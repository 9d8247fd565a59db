// The batch scorer the engine uses: the model's trees as generated WebAssembly (wasm-margin-kernel.ts) when
// they give onnxruntime's probabilities bit for bit, onnxruntime otherwise. onnxruntime stays loaded:
// it checks the generated scorer at load on probe rows (any difference, and the model is scored by
// onnxruntime alone), and it scores the rare rows whose float32 probability depends on the last bit of
// its expf (onnx-logistic.ts). Same scores either way; the generated walk is ≈1.7× cheaper at 512–1,024 rows.
import { ChurnflowError, errorMessage } from '../../errors.js';
import { readModelTrees, type ModelTrees } from '../explain/model-trees.js';
import type { ModelBundle } from '../model-bundle.js';
import { createOnnxScorer, type BatchScorer } from '../onnx-scorer.js';
import { whyNotCompilable } from './eligibility.js';
import { compileMarginKernel, type MarginKernel } from './wasm-margin-kernel.js';
import { RowWorker } from '../row-worker.js';
import type { MarginWorkerData } from './margin-worker.js';
import { settledLogistic } from './onnx-logistic.js';
import { probeRows } from './probe-rows.js';

/** Probe rows compared with onnxruntime at load (4 batches of 512: ≈15 ms with the bundled model). */
const PROBE_ROWS = 2048;
const PROBE_SEED = 0x5eed;

export interface TreeScorerOptions {
  intraOpThreads?: number;
  /** 'onnxruntime' keeps the generated scorer out (tests and benches comparing the two). */
  engine?: 'auto' | 'onnxruntime';
  /** The bundle's trees already parsed (loadScoringModel shares one parse with the explainer); read here when absent. */
  trees?: ModelTrees;
  /** Share of a large batch's rows a worker thread walks beside the main thread (model.workerShare; 0: no worker). */
  workerShare?: number;
  /** The worker thread failed (the main thread walks every row from then on). */
  onWorkerFailure?: (err: Error) => void;
}

/** Below this many rows a batch is walked on the calling thread alone: the worker's round trip would cost more than it saves. */
export const SPLIT_MIN_ROWS = 256;

/** A batch's probabilities; NaN where onnxruntime must decide (onnx-logistic.ts), with those rows' inputs. */
export interface KernelScores {
  scores: Float32Array;
  open: number[];
  openRows: Float32Array | undefined;
}

/**
 * Fills scores[at ..] from the margins; rows whose probability hangs on expf's last bit are listed in
 * `open` with their inputs (row i of `rows` belongs to margins[i]) copied out, before anything is awaited.
 */
function scoreMargins(margins: Float32Array, rows: Float32Array, width: number, into: KernelScores, at: number): void {
  const { scores, open } = into;
  const first = open.length;
  for (let i = 0; i < margins.length; i++) {
    const p = settledLogistic(margins[i]!);
    scores[at + i] = p;
    if (p !== p) open.push(at + i);
  }
  if (open.length === first) return;
  const openRows = new Float32Array(open.length * width);
  if (into.openRows) openRows.set(into.openRows);
  for (let j = first; j < open.length; j++) {
    const i = open[j]! - at;
    openRows.set(rows.subarray(i * width, (i + 1) * width), j * width);
  }
  into.openRows = openRows;
}

/** Probabilities of the n rows in kernel.input(n), on this thread. */
export function kernelScores(kernel: MarginKernel, n: number): KernelScores {
  const scored: KernelScores = { scores: new Float32Array(n), open: [], openRows: undefined };
  const rows = kernel.input(n);
  scoreMargins(kernel.margins(n), rows, kernel.width, scored, 0);
  return scored;
}

/**
 * Probabilities of the n rows in kernel.input(n), the tail `workerRows` of them walked by the worker
 * thread while this one walks the head. The tail is copied out first (this thread's margins are
 * written after the head's rows, over the tail); if the worker fails, this thread walks that copy.
 */
export async function splitScores(kernel: MarginKernel, worker: RowWorker<Float32Array>, n: number, workerRows: number): Promise<KernelScores> {
  const { width } = kernel;
  const head = n - workerRows;
  const tail = kernel.input(n).slice(head * width, n * width);
  const walked = worker.run(tail, workerRows).catch(() => undefined);
  const scored: KernelScores = { scores: new Float32Array(n), open: [], openRows: undefined };
  scoreMargins(kernel.margins(head), kernel.input(head), width, scored, 0);
  let margins = await walked;
  if (margins === undefined) {
    // Nothing else ran on the kernel between the copy and here that this call still needs: the tail
    // goes back into its memory now.
    kernel.input(workerRows).set(tail);
    margins = kernel.margins(workerRows);
  }
  scoreMargins(margins, tail, width, scored, head);
  return scored;
}

/** Scores the open rows with onnxruntime, in one call. */
async function settleWith(onnx: BatchScorer, { scores, open, openRows }: KernelScores): Promise<number> {
  if (openRows === undefined) return 0;
  const settled = await onnx.score(openRows, open.length);
  open.forEach((i, j) => {
    scores[i] = settled[j]!;
  });
  return open.length;
}

/** A worker thread walking the same module's trees. */
export function marginWorker(kernel: MarginKernel, onFailure?: (err: Error) => void): RowWorker<Float32Array> {
  const data: MarginWorkerData = { module: kernel.module, width: kernel.width };
  return new RowWorker<Float32Array>(new URL('./margin-worker.js', import.meta.url), data, 'scoring', onFailure);
}

/** The compiled kernel for the bundle's trees, or why the model stays on onnxruntime. */
async function compileChecked(bundle: ModelBundle, onnx: BatchScorer, intraOpThreads: number, trees: ModelTrees): Promise<{ kernel: MarginKernel } | { why: string }> {
  // A model onnxruntime loaded but this reader cannot follow is still a valid model: onnxruntime scores it.
  if (!trees.ok) return { why: `its trees could not be compiled: ${errorMessage(trees.error)}` };
  const { attributes, ensemble } = trees;
  let kernel: MarginKernel;
  let probes: Float32Array;
  try {
    if (ensemble.inputName !== bundle.manifest.onnx.input_name) return { why: `the trees read '${ensemble.inputName}', not the model input` };
    if (bundle.manifest.onnx.positive_index !== 1) return { why: `positive_index is ${bundle.manifest.onnx.positive_index}, not 1` };
    if (ensemble.nFeaturesUsed > onnx.width) return { why: 'the trees test columns beyond the model input' };
    const why = whyNotCompilable(attributes, ensemble, intraOpThreads);
    if (why !== null) return { why };
    kernel = compileMarginKernel(ensemble, onnx.width);
    probes = probeRows(ensemble, onnx.width, PROBE_ROWS, PROBE_SEED);
  } catch (err) {
    return { why: `its trees could not be compiled: ${errorMessage(err)}` };
  }
  for (let start = 0; start < PROBE_ROWS; start += 512) {
    const rows = probes.subarray(start * onnx.width, (start + 512) * onnx.width);
    const expected = await onnx.score(rows, 512);
    kernel.input(512).set(rows);
    const got = kernelScores(kernel, 512).scores;
    for (let i = 0; i < 512; i++) {
      if (got[i] === got[i] && got[i] !== expected[i]) return { why: `probe row ${start + i} scored ${got[i]} generated, ${expected[i]} by onnxruntime` };
    }
  }
  return { kernel };
}

export type EngineScorer = BatchScorer & {
  /** Scores n rows that `fill` writes (n × width, row-major) into a buffer the scorer provides. */
  scoreFilled(n: number, fill: (rows: Float32Array) => void): Promise<Float32Array>;
  /** Which walks the trees: the generated WebAssembly, or onnxruntime alone. */
  readonly engine: 'wasm' | 'onnxruntime';
  /** Why onnxruntime scores alone (undefined with the generated WebAssembly engine). */
  readonly onnxOnlyBecause?: string;
  /** Rows handed to onnxruntime because their probability hung on expf's last bit (since load). */
  readonly settledByOnnx: () => number;
  /** Whether a worker thread walks part of large batches: 'running', 'off' (not asked for, or onnxruntime scores), or 'failed' (the main thread walks every row since). */
  readonly worker: () => 'running' | 'off' | 'failed';
  /** Settles once the worker thread (if any) has built its kernel or failed. */
  readonly workerReady: Promise<unknown>;
};

/** The bundle's scorer: generated WebAssembly checked against onnxruntime, or onnxruntime alone. */
export async function createTreeScorer(bundle: ModelBundle, options: TreeScorerOptions = {}): Promise<EngineScorer> {
  const intraOpThreads = options.intraOpThreads ?? 1;
  const onnx = await createOnnxScorer(bundle, { intraOpThreads });
  const checked = options.engine === 'onnxruntime' ? { why: 'engine onnxruntime was asked for' } : await compileChecked(bundle, onnx, intraOpThreads, options.trees ?? (await readModelTrees(bundle)));
  if (!('kernel' in checked)) {
    return {
      ...onnx,
      engine: 'onnxruntime',
      onnxOnlyBecause: checked.why,
      settledByOnnx: () => 0,
      worker: () => 'off',
      workerReady: Promise.resolve(),
      scoreFilled(n, fill) {
        // A fresh buffer per call: onnxruntime reads it asynchronously, and calls may overlap.
        const rows = new Float32Array(n * onnx.width);
        fill(rows);
        return onnx.score(rows, n);
      },
    };
  }
  const { kernel } = checked;
  const { width } = onnx;
  let settledByOnnx = 0;
  const share = options.workerShare ?? 0;
  const worker = share > 0 ? marginWorker(kernel, options.onWorkerFailure) : undefined;
  return {
    width,
    engine: 'wasm',
    settledByOnnx: () => settledByOnnx,
    worker: () => (worker === undefined ? 'off' : worker.usable ? 'running' : 'failed'),
    workerReady: worker?.ready ?? Promise.resolve(),
    async score(rows, n) {
      if (n === 0) return new Float32Array(0);
      if (rows.length < n * width) {
        throw new ChurnflowError('CF_SCORING_FAILED', `scoring ${n} rows with ${bundle.manifest.name}@${bundle.manifest.version} failed: ${rows.length} values for ${n} rows of ${width}`, { retriable: false });
      }
      kernel.input(n).set(rows.subarray(0, n * width));
      const scored = kernelScores(kernel, n);
      settledByOnnx += await settleWith(onnx, scored);
      return scored.scores;
    },
    async scoreFilled(n, fill) {
      if (n === 0) return new Float32Array(0);
      // Written straight into the module's memory. Everything a call reads from it happens before its
      // first await (the worker's part is a copy), so overlapping calls cannot overwrite each other's rows.
      fill(kernel.input(n));
      const workerRows = worker?.usable && n >= SPLIT_MIN_ROWS ? Math.round(n * share) : 0;
      const scored = workerRows > 0 ? await splitScores(kernel, worker!, n, workerRows) : kernelScores(kernel, n);
      settledByOnnx += await settleWith(onnx, scored);
      return scored.scores;
    },
    async close() {
      await worker?.close();
      await onnx.close();
    },
  };
}
