// Scores model input rows with onnxruntime-node. One session per model; calls are whole micro-batches.
import * as ort from 'onnxruntime-node';
import { ChurnflowError, errorMessage } from '../errors.js';
import type { ModelBundle } from './model-bundle.js';

export interface BatchScorer {
  readonly width: number;
  /** rows: n × width, row-major. Returns n churn probabilities. */
  score(rows: Float32Array, n: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function createOnnxScorer(bundle: ModelBundle, options: { intraOpThreads?: number } = {}): Promise<BatchScorer> {
  const { manifest } = bundle;
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bundle.onnxPath, {
      intraOpNumThreads: options.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
    });
  } catch (err) {
    throw new ChurnflowError('CF_MODEL_INVALID', `cannot load ${bundle.onnxPath}: ${errorMessage(err)}`, { cause: err });
  }
  const width = manifest.input_columns.length;
  const inputName = manifest.onnx.input_name;
  const outputName = manifest.onnx.probability_output;
  const positive = manifest.onnx.positive_index;
  if (!session.inputNames.includes(inputName) || !session.outputNames.includes(outputName)) {
    await session.release();
    throw new ChurnflowError(
      'CF_MODEL_INVALID',
      `${bundle.onnxPath}: expected input '${inputName}' and output '${outputName}', model has inputs [${session.inputNames.join(', ')}] outputs [${session.outputNames.join(', ')}]`,
    );
  }
  return {
    width,
    async score(rows, n) {
      if (n === 0) return new Float32Array(0);
      try {
        const input = new ort.Tensor('float32', rows.subarray(0, n * width), [n, width]);
        const out = await session.run({ [inputName]: input }, [outputName]);
        const probs = out[outputName]!.data as Float32Array;
        const classes = probs.length / n;
        const result = new Float32Array(n);
        for (let i = 0; i < n; i++) result[i] = probs[i * classes + positive]!;
        return result;
      } catch (err) {
        throw new ChurnflowError('CF_SCORING_FAILED', `scoring ${n} rows with ${manifest.name}@${manifest.version} failed: ${errorMessage(err)}`, {
          cause: err,
          retriable: false,
        });
      }
    },
    async close() {
      await session.release();
    },
  };
}
