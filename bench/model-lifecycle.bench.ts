// Model lifecycle cost on scoring + risk decision: per-event reasons (exact TreeSHAP) above the
// threshold only (the engine default) and on every risk event, a shadow candidate scoring every step,
// a 10 % canary, and the fallback rules alone, against production-only scoring without reasons,
// measured in the same run. The batches are simulated, decoded, validated and aggregated once, outside
// the timed section, so only LifecycleScorer.score + decideBatch is timed (what the lifecycle adds).
// Also printed: how many risk events (rows explained) each scenario decides per step, and what one
// TreeSHAP row costs for each bundled model, so the reasons' cost can be read as rows × µs per row.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatMap, lastValueFrom, toArray } from 'rxjs';
import { configSchema } from '../src/config/config-schema.js';
import { DEFAULT_VALIDATION_RULES } from '../src/events/validate-event.js';
import { loadFeatureSpec } from '../src/features/load-spec.js';
import { aggregateBatch } from '../src/operators/apply-to-state.js';
import type { AggregatedBatch } from '../src/operators/batch.js';
import { decideBatch, type DecisionOptions } from '../src/operators/decide-risk.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { microBatch } from '../src/operators/micro-batch.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { LifecycleScorer, type LifecycleScoringOptions } from '../src/operators/score-steps.js';
import { validateEvents } from '../src/operators/validate-events.js';
import { BUNDLED_MODEL, BUNDLED_REGISTRY_DIR, BUNDLED_MODEL_NAME } from '../src/scoring/bundled-model.js';
import { parseOnnxTreeEnsemble } from '../src/scoring/explain/onnx-tree-ensemble.js';
import { createFallbackScorer } from '../src/scoring/fallback-scorer.js';
import { ModelHandle } from '../src/scoring/model-handle.js';
import { DEFAULT_EMIT_POLICY } from '../src/config/decision-options.js';
import type { EmitPolicy } from '../src/scoring/emit-rule.js';
import { loadScoringModel, type ScoringModel } from '../src/scoring/scoring-model.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import { recordToNdjson, resolveSimulatorOptions, simulate, simulationEndTime } from '../src/simulator/index.js';
import { createFileSource } from '../src/sources/file-source.js';
import { FlowControl } from '../src/sources/flow-control.js';
import { MemoryStateStore } from '../src/state/memory-store.js';
import { fixedClock } from '../src/time/clock.js';
import { measure, median, microsPerItem, report, type Measurement } from './harness.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BATCH = 256;
const WARMUP_BATCHES = 32;
const CANDIDATE = join(BUNDLED_REGISTRY_DIR, BUNDLED_MODEL_NAME, '1.0.0');
const policy: EmitPolicy = DEFAULT_EMIT_POLICY;
const config = configSchema.parse({});

// ---- batches, built once (not timed) ---------------------------------------------------------------
const sim = resolveSimulatorOptions({ customers: 600, days: 60, seed: 5 });
const dir = mkdtempSync(join(tmpdir(), 'cf-bench-lifecycle-'));
const file = join(dir, 'events.ndjson');
const lines = [...simulate(sim)].map(recordToNdjson);
writeFileSync(file, `${lines.join('\n')}\n`);
const clock = fixedClock(simulationEndTime(sim));
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });
const store = new MemoryStateStore({ layout: spec.layout });
const batches: AggregatedBatch[] = await lastValueFrom(
  createFileSource(file, clock)
    .records(new FlowControl(1 << 30))
    .pipe(
      decodeRecords(new ActivityCodec()),
      validateEvents(DEFAULT_VALIDATION_RULES, clock),
      routeLateEvents({ allowedLatenessMs: 3_600_000 }),
      microBatch({ maxSize: BATCH, maxWaitMs: 1000 }),
      concatMap((items) => aggregateBatch(items, store, spec)),
      toArray(),
    ),
);
const STEPS = batches.reduce((n, b) => n + b.steps.length, 0);

// ---- models --------------------------------------------------------------------------------------
const production = await loadScoringModel(BUNDLED_MODEL, spec, { intraOpThreads: config.model.intraOpThreads });
const explained = await loadScoringModel(BUNDLED_MODEL, spec, { intraOpThreads: config.model.intraOpThreads, explain: true });
const candidate = await loadScoringModel(CANDIDATE, spec, { intraOpThreads: config.model.intraOpThreads });
const fallback = createFallbackScorer(config.fallback, spec.columns);

// ---- scenarios -----------------------------------------------------------------------------------
interface Counts {
  riskEvents: number;
  withReasons: number;
  shadowEvents: number;
  canarySteps: number;
  fallbackSteps: number;
}
const counts = new Map<string, Counts>();

function scenario(
  name: string,
  models: { production?: ScoringModel; candidate?: ScoringModel },
  options: Partial<Pick<LifecycleScoringOptions, 'shadow' | 'canary' | 'fallback'>>,
  decision: DecisionOptions,
): Promise<Measurement> {
  const handle = new ModelHandle();
  handle.set('production', models.production);
  handle.set('candidate', models.candidate);
  const scorer = new LifecycleScorer({ handle, clock, retryAfterMs: config.fallback.retryAfterMs, shadow: false, ...options });
  const pass = async (over: readonly AggregatedBatch[]) => {
    const c: Counts = { riskEvents: 0, withReasons: 0, shadowEvents: 0, canarySteps: 0, fallbackSteps: 0 };
    for (const b of over) {
      const d = await decideBatch(await scorer.score(b), policy, clock, decision);
      c.riskEvents += d.riskEvents.length;
      for (const e of d.riskEvents) if (e.reasons && e.reasons.length > 0) c.withReasons++;
      c.shadowEvents += d.shadowEvents?.length ?? 0;
      if (d.canary) for (const s of d.canary.steps) c.canarySteps += s;
      if (d.model.scorer === 'fallback') c.fallbackSteps += d.steps.length;
    }
    counts.set(name, c);
  };
  // Warm-up on the first batches only (a full pass with reasons on every event takes ~20 s), then full timed runs.
  return pass(batches.slice(0, WARMUP_BATCHES)).then(() => measure(name, STEPS, RUNS, () => pass(batches), 0));
}

const canary = { share: 0.1, salt: config.model.canary.salt };
const reasons = (aboveThresholdOnly: boolean): DecisionOptions => ({ reasonsTopK: 3, reasonsAboveThresholdOnly: aboveThresholdOnly });
const baseline = await scenario(`production ${production.manifest.version} only, no reasons`, { production }, {}, {});
const results = [
  baseline,
  await scenario('+ reasons top 3, events above threshold only (default)', { production: explained }, {}, reasons(true)),
  await scenario('+ reasons top 3 on every risk event', { production: explained }, {}, reasons(false)),
  await scenario(`+ shadow ${candidate.manifest.version} on every step (+ its decisions)`, { production, candidate }, { shadow: true }, {}),
  await scenario(`+ canary 10 % to ${candidate.manifest.version}`, { production, candidate }, { canary }, {}),
  await scenario('fallback rules only (no production model)', {}, { fallback }, {}),
];
report(
  `model lifecycle cost on score + decide: ${STEPS.toLocaleString('en-US')} steps in ${batches.length} batches of ≤ ${BATCH} records (${sim.customers} customers × ${sim.days} days), production ${production.manifest.name}@${production.manifest.version}, policy change/0.02`,
  results,
  baseline,
  'step',
);

console.log('\nrisk events decided per scored step (reasons = rows explained with TreeSHAP):');
console.log(`  ${'scenario'.padEnd(58)} ${'risk/step'.padStart(10)} ${'reasons/step'.padStart(13)} ${'shadow/step'.padStart(12)} ${'canary share'.padStart(13)} ${'fallback share'.padStart(15)}`);
for (const m of results) {
  const c = counts.get(m.name)!;
  const f = (x: number) => (x / STEPS).toFixed(4);
  console.log(`  ${m.name.padEnd(58)} ${f(c.riskEvents).padStart(10)} ${f(c.withReasons).padStart(13)} ${f(c.shadowEvents).padStart(12)} ${f(c.canarySteps).padStart(13)} ${f(c.fallbackSteps).padStart(15)}`);
}
const base = median(baseline.runsMs);
for (const m of results.slice(1, 3)) {
  const c = counts.get(m.name)!;
  if (c.withReasons > 0) console.log(`  ${m.name}: extra time per explained row ${(((median(m.runsMs) - base) * 1000) / c.withReasons).toFixed(1)} µs`);
}

// ---- TreeSHAP per row ----------------------------------------------------------------------------
const SHAP_ROWS = 500;
const allRows = batches.flatMap((b) => b.steps.map((s) => s.features));
const stride = Math.max(1, Math.floor(allRows.length / SHAP_ROWS));
const sample = Array.from({ length: Math.min(SHAP_ROWS, allRows.length) }, (_, i) => allRows[i * stride]!);
const shap: Measurement[] = [];
for (const modelDir of [BUNDLED_MODEL, CANDIDATE]) {
  const m = await loadScoringModel(modelDir, spec, { explain: true });
  const e = parseOnnxTreeEnsemble(await readFile(join(modelDir, 'model.onnx')), modelDir);
  const explainer = m.explainer!;
  shap.push(
    await measure(`TreeSHAP contributions ${m.manifest.version} (${e.nTrees} trees, ${e.nNodes} nodes, depth ${e.maxDepth})`, sample.length, RUNS, () => {
      for (const r of sample) explainer.contributions(r);
    }),
  );
  await m.close();
}
report(`TreeSHAP (explainer.contributions) on ${sample.length} spec rows sampled from the batches`, shap, shap[0]!, 'row');
console.log(`  reasons cost ≈ reasons/step (above) × µs/row here (${production.manifest.version}: ${microsPerItem(shap[0]!).toFixed(1)} µs) per scored step, plus ranking the top 3`);

await Promise.all([production.close(), explained.close(), candidate.close()]);
