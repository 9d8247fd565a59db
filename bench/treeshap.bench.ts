// Exact TreeSHAP per row: the engine's table-driven explainer (one row per call; tree-major batches of
// 32 rows, what decide-risk hands reasonsMany per chunk, and of 64) against the reference recursion
// (O(leaves · depth²), LightGBM's algorithm, kept in src/ as the tests' oracle), on the same rows in the
// same run, for the bundled model and the older 1.0.0; plus the bytes of precomputed tables each model
// holds, and the same with a table for every leaf (maxTableBits 14), which pays off in batches (a
// tree's tables stay in cache across the rows) but not one row at a time (every row misses the cache).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadFeatureSpec } from '../src/features/load-spec.js';
import type { ActivityEventJson } from '../src/events/wire-types.js';
import { BUNDLED_MODEL, BUNDLED_MODEL_NAME, BUNDLED_REGISTRY_DIR } from '../src/scoring/bundled-model.js';
import { parseOnnxTreeEnsemble } from '../src/scoring/explain/onnx-tree-ensemble.js';
import { compileTreeShap } from '../src/scoring/explain/tree-shap.js';
import { compileTreeShapReference } from '../src/scoring/explain/tree-shap-reference.js';
import { loadScoringModel } from '../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../src/simulator/index.js';
import { runSnapshot } from '../test/helpers/run-snapshot.js';
import { microsPerItem, report, writeResults, type Measurement } from './harness.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const ROWS = 500;
const BATCH = 64;
const CHUNK = 32;
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });
const sim = resolveSimulatorOptions({ customers: 300, days: 90, seed: 23 });
const events: ActivityEventJson[] = [];
for (const r of simulate(sim)) if (r.type === 'event') events.push(r.event);
const specRows = (await runSnapshot(events, spec, simulationEndTime(sim))).rows.map((r) => r.features);
const stride = Math.max(1, Math.floor(specRows.length / ROWS));

/**
 * Runs the scenarios in rounds (each round runs every scenario once, after one warm-up round), timing
 * each run in CPU time of this process: the machine is shared, and interleaving plus CPU time keep the
 * ratios to the baseline meaningful when other work comes and goes (wall time would count waiting).
 */
function interleaved(items: number, scenarios: readonly [string, () => void][]): Measurement[] {
  const runsMs = scenarios.map((): number[] => []);
  for (let round = -1; round < RUNS; round++) {
    scenarios.forEach(([, fn], s) => {
      const c0 = process.cpuUsage();
      fn();
      const c = process.cpuUsage(c0);
      if (round >= 0) runsMs[s]!.push((c.user + c.system) / 1000);
    });
  }
  return scenarios.map(([name], s) => ({ name, items, runsMs: runsMs[s]! }));
}

const figures: Record<string, number | string> = {};
for (const [key, dir] of [
  ['', BUNDLED_MODEL],
  ['_1_0_0', join(BUNDLED_REGISTRY_DIR, BUNDLED_MODEL_NAME, '1.0.0')],
] as const) {
  const model = await loadScoringModel(dir, spec);
  const width = model.vectorizer.width;
  const count = Math.min(ROWS, Math.floor(specRows.length / stride));
  const rows = new Float32Array(count * width); // model input rows (imputed, indicators), as the explainer reads them
  for (let i = 0; i < count; i++) model.vectorizer.write(specRows[i * stride]!, rows, i * width);
  await model.close();
  const e = parseOnnxTreeEnsemble(await readFile(join(dir, 'model.onnx')), dir);
  const reference = compileTreeShapReference(e, width, dir);
  const fast = compileTreeShap(e, width, dir);
  const bigTables = compileTreeShap(e, width, dir, { maxTableBits: 14 });
  const out = new Float64Array(width + 1);
  const batchOut = new Float64Array(BATCH * (width + 1));
  const inBatches = (t: typeof fast, size: number) => () => {
    for (let i = 0; i < count; i += size) t.contributionsBatch(rows.subarray(i * width), Math.min(size, count - i), batchOut);
  };
  const results = interleaved(count, [
    ['reference recursion (baseline), one row per call', () => {
      for (let i = 0; i < count; i++) reference.contributions(rows, i * width, out);
    }],
    ['per-leaf tables, one row per call', () => {
      for (let i = 0; i < count; i++) fast.contributions(rows, i * width, out);
    }],
    [`per-leaf tables, batches of ${CHUNK} (decide-risk's chunks)`, inBatches(fast, CHUNK)],
    [`per-leaf tables, batches of ${BATCH}`, inBatches(fast, BATCH)],
    [`  every leaf a table (${(bigTables.memoryBytes / 2 ** 20).toFixed(1)} MiB), batches of ${BATCH}`, inBatches(bigTables, BATCH)],
    [`  every leaf a table, one row per call`, () => {
      for (let i = 0; i < count; i++) bigTables.contributions(rows, i * width, out);
    }],
  ]);
  const title = `TreeSHAP ${dir}: ${e.nTrees} trees, ${e.nNodes} nodes, depth ${e.maxDepth}, ${count} rows; tables ${(fast.memoryBytes / 2 ** 20).toFixed(1)} MiB`;
  report(`${title} (CPU time, interleaved runs)`, results, results[0]!, 'row');
  const [base, single, chunk, batch, bigBatch, bigSingle] = results.map(microsPerItem) as [number, number, number, number, number, number];
  console.log(`  speed-up: ${(base / single).toFixed(2)}× one row per call, ${(base / chunk).toFixed(2)}× in batches of ${CHUNK}, ${(base / batch).toFixed(2)}× of ${BATCH}, ${(base / bigBatch).toFixed(2)}× of ${BATCH} with every leaf a table`);
  Object.assign(figures, {
    [`treeshap_us_per_row${key}`]: Number(single.toFixed(1)),
    [`treeshap_baseline_us_per_row${key}`]: Number(base.toFixed(1)),
    [`treeshap_speedup${key}`]: Number((base / single).toFixed(2)),
    [`treeshap_batch${CHUNK}_us_per_row${key}`]: Number(chunk.toFixed(1)),
    [`treeshap_batch${CHUNK}_speedup${key}`]: Number((base / chunk).toFixed(2)),
    [`treeshap_batch${BATCH}_us_per_row${key}`]: Number(batch.toFixed(1)),
    [`treeshap_batch${BATCH}_speedup${key}`]: Number((base / batch).toFixed(2)),
    [`treeshap_table_bytes${key}`]: fast.memoryBytes,
    [`treeshap_batch${BATCH}_bits14_us_per_row${key}`]: Number(bigBatch.toFixed(1)),
    [`treeshap_batch${BATCH}_bits14_speedup${key}`]: Number((base / bigBatch).toFixed(2)),
    [`treeshap_bits14_us_per_row${key}`]: Number(bigSingle.toFixed(1)),
    [`treeshap_bits14_table_bytes${key}`]: bigTables.memoryBytes,
    [`treeshap_model${key}`]: `${dir} (${e.nTrees} trees, depth ${e.maxDepth})`,
  });
}
await writeResults('treeshap', figures);
