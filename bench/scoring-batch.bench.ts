// ONNX scoring cost per customer at micro-batch sizes 1, 64 and 512, against batch 1 in the same run.
import { loadFeatureSpec } from '../src/features/load-spec.js';
import { loadScoringModel } from '../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../src/simulator/index.js';
import type { ActivityEventJson } from '../src/events/wire-types.js';
import { runSnapshot } from '../test/helpers/run-snapshot.js';
import { measure, report } from './harness.js';
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
const model = await loadScoringModel(BUNDLED_MODEL, spec);

const vectorizeOnly = await measure('impute + vectorize only (no ONNX)', ROWS, RUNS, () => {
  const out = new Float32Array(model.vectorizer.width);
  for (const r of sample) model.vectorizer.write(r, out, 0);
});
const results = [];
for (const size of [1, 64, 512]) {
  results.push(
    await measure(`ONNX score, batch ${size}`, ROWS, RUNS, async () => {
      for (let i = 0; i < ROWS; i += size) await model.scoreFeatures(sample.slice(i, i + size));
    }),
  );
}
await model.close();
report(`scoring: ${ROWS} customers per run, model ${model.manifest.name}@${model.manifest.version} (${model.vectorizer.width} inputs)`, [...results, vectorizeOnly], results[0]!, 'customer');
