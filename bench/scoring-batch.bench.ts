// Scoring cost per customer at micro-batch sizes 1, 64 and 512, against batch 1 in the same run (the
// engine's scorer: the trees as generated WebAssembly, src/scoring/trees/; onnxruntime alone at 512 beside it);
// and what reasons (exact TreeSHAP, top 3) add per explained customer, one row at a time and in
// decide-risk's chunks of 32 (reasonsMany), on the same rows. Figures → bench/results/scoring-batch.json.
// Wall time, like the other benches here: on a busy machine it counts waiting for a core too;
// bench/treeshap.bench.ts times TreeSHAP in CPU time against the reference recursion. Last, the
// engine's batch of 8,192 rows and 256 explained rows with half on the worker thread (model.workerShare).
import { loadFeatureSpec } from '../src/features/load-spec.js';
import { loadScoringModel } from '../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../src/simulator/index.js';
import type { ActivityEventJson } from '../src/events/wire-types.js';
import { runSnapshot } from '../test/helpers/run-snapshot.js';
import { measure, microsPerItem, report, writeResults } from './harness.js';
import { BUNDLED_MODEL } from '../src/scoring/bundled-model.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ROWS = 512;
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });
const sim = resolveSimulatorOptions({ customers: 200, days: 90, seed: 9 });
const events: ActivityEventJson[] = [];
for (const r of simulate(sim)) if (r.type === 'event') events.push(r.event);
const rows = (await runSnapshot(events, spec, simulationEndTime(sim))).rows.map((r) => r.features);
while (rows.length < ROWS) rows.push(...rows.slice(0, ROWS - rows.length));
const sample = rows.slice(0, ROWS);
const model = await loadScoringModel(BUNDLED_MODEL, spec, { explain: true });
const onnxOnly = await loadScoringModel(BUNDLED_MODEL, spec, { engine: 'onnxruntime' });
const explainer = model.explainer!;

const vectorizeOnly = await measure('impute + vectorize only (no ONNX)', ROWS, RUNS, () => {
  const out = new Float32Array(model.vectorizer.width);
  for (const r of sample) model.vectorizer.write(r, out, 0);
});
const results = [];
for (const size of [1, 64, 512]) {
  results.push(
    await measure(`score (${model.scorer.engine}), batch ${size}`, ROWS, RUNS, async () => {
      for (let i = 0; i < ROWS; i += size) await model.scoreFeatures(sample.slice(i, i + size));
    }),
  );
}
const onnxruntime512 = await measure('score (onnxruntime alone), batch 512', ROWS, RUNS, async () => {
  await onnxOnly.scoreFeatures(sample);
});
const reasonsOne = await measure('reasons (TreeSHAP, top 3), one row per call', ROWS, RUNS, () => {
  for (const r of sample) explainer.reasons(r, 3);
});
const reasonsChunked = await measure("reasons, reasonsMany in decide-risk's chunks of 32", ROWS, RUNS, () => {
  for (let i = 0; i < ROWS; i += 32) explainer.reasonsMany(sample.slice(i, i + 32), 3);
});
// The shipped split (model.workerShare): the engine's full batch of 8,192 rows, half of its trees and
// of its explained rows on a worker thread, against this thread alone, alternated run by run. Wall time
// of the calling thread's wait: the worker's half runs beside it on the other core.
const BIG = 8192;
const big = Array.from({ length: BIG }, (_, i) => rows[i % rows.length]!);
const explained = big.slice(0, 256);
const split = await loadScoringModel(BUNDLED_MODEL, spec, { explain: true, workerShare: 0.5 });
const splitRuns: number[] = [];
const singleRuns: number[] = [];
const splitReasonsRuns: number[] = [];
const singleReasonsRuns: number[] = [];
for (let i = 0; i < RUNS + 1; i++) {
  const t0 = performance.now();
  await split.scoreFeatures(big);
  const t1 = performance.now();
  await model.scoreFeatures(big);
  const t2 = performance.now();
  // As decide-risk does: the tail goes to the worker first, this thread explains the head meanwhile.
  const tail = split.offThreadReasons!.reasons(explained.slice(128), 3);
  for (let c = 0; c < 128; c += 32) split.explainer!.reasonsMany(explained.slice(c, c + 32), 3);
  await tail;
  const t3 = performance.now();
  for (let c = 0; c < explained.length; c += 32) explainer.reasonsMany(explained.slice(c, c + 32), 3);
  const t4 = performance.now();
  if (i === 0) continue; // warm-up
  splitRuns.push(t1 - t0);
  singleRuns.push(t2 - t1);
  splitReasonsRuns.push(t3 - t2);
  singleReasonsRuns.push(t4 - t3);
}
const splitScore = { name: `score, batch ${BIG}, half on the worker thread (workerShare 0.5)`, items: BIG, runsMs: splitRuns };
const singleScore = { name: `score, batch ${BIG}, this thread alone`, items: BIG, runsMs: singleRuns };
const splitReasons = { name: `reasons for ${explained.length} rows, half on the worker thread`, items: explained.length, runsMs: splitReasonsRuns };
const singleReasons = { name: `reasons for ${explained.length} rows, this thread alone (chunks of 32)`, items: explained.length, runsMs: singleReasonsRuns };
await split.close();
await model.close();
await onnxOnly.close();
report(`scoring: ${ROWS} customers per run, model ${model.manifest.name}@${model.manifest.version} (${model.vectorizer.width} inputs)`, [...results, onnxruntime512, vectorizeOnly, reasonsOne, reasonsChunked], results[0]!, 'customer');
report(`the worker thread (model.workerShare 0.5) against this thread alone, alternated, ${RUNS} runs`, [singleScore, splitScore, singleReasons, splitReasons], singleScore, 'customer');
await writeResults('scoring-batch', {
  onnx_us_per_row_b1: Number(microsPerItem(results[0]!).toFixed(1)),
  onnx_us_per_row_b64: Number(microsPerItem(results[1]!).toFixed(1)),
  // onnx_us_per_row_*: the engine's scorer (scorer_engine says which); onnxruntime alone beside it.
  onnx_us_per_row_b512: Number(microsPerItem(results[2]!).toFixed(1)),
  onnxruntime_only_us_per_row_b512: Number(microsPerItem(onnxruntime512).toFixed(1)),
  scorer_engine: model.scorer.engine,
  vectorize_us_per_row: Number(microsPerItem(vectorizeOnly).toFixed(2)),
  treeshap_us_per_row: Number(microsPerItem(reasonsOne).toFixed(1)),
  treeshap_batch32_us_per_row: Number(microsPerItem(reasonsChunked).toFixed(1)),
  score_b8192_us_per_row: Number(microsPerItem(singleScore).toFixed(2)),
  score_b8192_worker_share_us_per_row: Number(microsPerItem(splitScore).toFixed(2)),
  treeshap_256_us_per_row: Number(microsPerItem(singleReasons).toFixed(1)),
  treeshap_256_worker_share_us_per_row: Number(microsPerItem(splitReasons).toFixed(1)),
  model: `${model.manifest.name}@${model.manifest.version}`,
});
