// Exact TreeSHAP per row: the engine's Linear TreeSHAP in WebAssembly with SIMD (one row per call;
// tree-major batches of 32 rows, what decide-risk hands reasonsMany per chunk, and of 64) and the
// same pass in JavaScript (the fallback, bit-identical), against the reference recursion
// (O(leaves · depth²), LightGBM's algorithm, kept in src/ as the tests' oracle, the baseline) and the
// per-leaf tables Linear TreeSHAP replaced (Fast TreeSHAP v2 style), on the same rows in the same run,
// for the bundled model and the older 1.0.0; plus the bytes of precomputed tables each holds.
import { loadavg } from 'node:os';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadFeatureSpec } from '../src/features/load-spec.js';
import type { ActivityEventJson } from '../src/events/wire-types.js';
import { BUNDLED_MODEL, BUNDLED_MODEL_NAME, BUNDLED_REGISTRY_DIR } from '../src/scoring/bundled-model.js';
import { parseOnnxTreeEnsemble } from '../src/scoring/explain/onnx-tree-ensemble.js';
import { buildLinearTreeShapPlan } from '../src/scoring/explain/linear-tree-shap-plan.js';
import { compileTableTreeShap } from '../src/scoring/explain/table-tree-shap.js';
import { compileTreeShap, type TreeShap } from '../src/scoring/explain/tree-shap.js';
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
  const tables = compileTableTreeShap(e, width, dir);
  const linear = compileTreeShap(e, width, dir); // the engine's: WebAssembly
  const js = compileTreeShap(e, width, dir, 'js');
  if (linear.kernel !== 'linear-wasm') throw new Error(`the engine's TreeSHAP runs ${linear.kernel}, not the WebAssembly kernel (npm run build:wasm)`);
  const out = new Float64Array(width + 1);
  const batchOut = new Float64Array(BATCH * (width + 1));
  const oneByOne = (t: TreeShap) => () => {
    for (let i = 0; i < count; i++) t.contributions(rows, i * width, out);
  };
  const inBatches = (t: TreeShap, size: number) => () => {
    for (let i = 0; i < count; i += size) t.contributionsBatch(rows.subarray(i * width), Math.min(size, count - i), batchOut);
  };
  const load = loadavg()[0]!;
  const results = interleaved(count, [
    ['reference recursion (baseline), one row per call', oneByOne(reference)],
    ['per-leaf tables, one row per call', oneByOne(tables)],
    ['Linear TreeSHAP in JavaScript (fallback), one row per call', oneByOne(js)],
    [`Linear TreeSHAP in JavaScript, batches of ${CHUNK}`, inBatches(js, CHUNK)],
    ['Linear TreeSHAP in WebAssembly (engine), one row per call', oneByOne(linear)],
    [`Linear TreeSHAP in WebAssembly, batches of ${CHUNK} (decide-risk's chunks)`, inBatches(linear, CHUNK)],
    [`Linear TreeSHAP in WebAssembly, batches of ${BATCH}`, inBatches(linear, BATCH)],
  ]);
  // Exactness on these rows at this depth: Linear TreeSHAP against the reference recursion.
  const want = new Float64Array(width + 1);
  let maxDiff = 0;
  for (let i = 0; i < count; i++) {
    reference.contributions(rows, i * width, want);
    linear.contributions(rows, i * width, out);
    for (let j = 0; j <= width; j++) maxDiff = Math.max(maxDiff, Math.abs(out[j]! - want[j]!));
  }
  // And the JavaScript pass gives the same bits.
  const jsOut = new Float64Array(width + 1);
  let jsDiffer = 0;
  for (let i = 0; i < count; i++) {
    linear.contributions(rows, i * width, out);
    js.contributions(rows, i * width, jsOut);
    for (let j = 0; j <= width; j++) if (out[j] !== jsOut[j]) jsDiffer++;
  }
  const plan = buildLinearTreeShapPlan(e, e.cover!);
  let nodePoints = 0;
  for (let t = 0; t < plan.nTrees; t++) nodePoints += (plan.treeStart[t + 1]! - plan.treeStart[t]!) * plan.treePoints[t]!;
  console.log(`\n${dir}: depth ${e.maxDepth}, up to ${plan.maxPathFeatures} distinct columns on a path; ${plan.treeStart[plan.nTrees]} nodes × on average ${(nodePoints / plan.treeStart[plan.nTrees]!).toFixed(2)} quadrature points (per tree: its own paths' ceil(distinct / 2), padded to even); max |Linear TreeSHAP - reference| ${maxDiff.toExponential(2)} over ${count} rows; WebAssembly vs JavaScript: ${jsDiffer} values differ`);
  const title = `TreeSHAP ${dir}: ${e.nTrees} trees, ${e.nNodes} nodes, depth ${e.maxDepth}, ${count} rows; tables ${(tables.memoryBytes / 2 ** 20).toFixed(1)} MiB, linear ${(linear.memoryBytes / 2 ** 20).toFixed(1)} MiB; load average ${load.toFixed(2)} at the start`;
  report(`${title} (CPU time, interleaved runs)`, results, results[0]!, 'row');
  const [base, tableSingle, jsSingle, jsChunk, single, chunk, batch] = results.map(microsPerItem) as [number, number, number, number, number, number, number];
  console.log(
    `  speed-up over the reference: WebAssembly ${(base / single).toFixed(2)}× one row per call, ${(base / chunk).toFixed(2)}× in batches of ${CHUNK}, ${(base / batch).toFixed(2)}× of ${BATCH}; JavaScript ${(base / jsSingle).toFixed(2)}× and ${(base / jsChunk).toFixed(2)}×; WebAssembly over JavaScript ${(jsSingle / single).toFixed(2)}×; per-leaf tables ${(base / tableSingle).toFixed(2)}×`,
  );
  Object.assign(figures, {
    [`treeshap_us_per_row${key}`]: Number(single.toFixed(1)),
    [`treeshap_baseline_us_per_row${key}`]: Number(base.toFixed(1)),
    [`treeshap_speedup${key}`]: Number((base / single).toFixed(2)),
    [`treeshap_batch${CHUNK}_us_per_row${key}`]: Number(chunk.toFixed(1)),
    [`treeshap_batch${CHUNK}_speedup${key}`]: Number((base / chunk).toFixed(2)),
    [`treeshap_batch${BATCH}_us_per_row${key}`]: Number(batch.toFixed(1)),
    [`treeshap_batch${BATCH}_speedup${key}`]: Number((base / batch).toFixed(2)),
    [`treeshap_js_us_per_row${key}`]: Number(jsSingle.toFixed(1)),
    [`treeshap_js_batch${CHUNK}_us_per_row${key}`]: Number(jsChunk.toFixed(1)),
    [`treeshap_js_speedup${key}`]: Number((base / jsSingle).toFixed(2)),
    [`treeshap_wasm_over_js${key}`]: Number((jsSingle / single).toFixed(2)),
    [`treeshap_tables_us_per_row${key}`]: Number(tableSingle.toFixed(1)),
    [`treeshap_linear_bytes${key}`]: linear.memoryBytes,
    [`treeshap_table_bytes${key}`]: tables.memoryBytes,
    [`treeshap_linear_max_abs_diff${key}`]: maxDiff,
    [`treeshap_wasm_js_values_differing${key}`]: jsDiffer,
    [`treeshap_load_average${key}`]: Number(load.toFixed(2)),
    [`treeshap_model${key}`]: `${dir} (${e.nTrees} trees, depth ${e.maxDepth})`,
  });
}
await writeResults('treeshap', figures);
