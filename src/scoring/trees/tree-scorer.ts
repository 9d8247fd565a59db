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
}

/**
 * Probabilities of the n rows in kernel.input(n); NaN where onnxruntime must decide (onnx-logistic.ts).
 * Also returns those rows, copied out of the kernel's memory before anything is awaited.
 */
function kernelScores(kernel: MarginKernel, n: number): { scores: Float32Array; open: number[]; openRows: Float32Array | undefined } {
  const margins = kernel.margins(n);
  const scores = new Float32Array(n);
  const open: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = settledLogistic(margins[i]!);
    scores[i] = p;
    if (p !== p) open.push(i);
  }
  if (open.length === 0) return { scores, open, openRows: undefined };
  const { width } = kernel;
  const rows = kernel.input(n);
  const openRows = new Float32Array(open.length * width);
  open.forEach((i, j) => openRows.set(rows.subarray(i * width, (i + 1) * width), j * width));
  return { scores, open, openRows };
}

/** Scores the open rows with onnxruntime, in one call. */
async function settleWith(onnx: BatchScorer, { scores, open, openRows }: ReturnType<typeof kernelScores>): Promise<number> {
  if (openRows === undefined) return 0;
  const settled = await onnx.score(openRows, open.length);
  open.forEach((i, j) => {
    scores[i] = settled[j]!;
  });
  return open.length;
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
  return {
    width,
    engine: 'wasm',
    settledByOnnx: () => settledByOnnx,
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
      // Written straight into the module's memory; everything up to settleWith's await is synchronous,
      // so overlapping calls cannot overwrite each other's rows.
      fill(kernel.input(n));
      const scored = kernelScores(kernel, n);
      settledByOnnx += await settleWith(onnx, scored);
      return scored.scores;
    },
    close: () => onnx.close(),
  };
}
