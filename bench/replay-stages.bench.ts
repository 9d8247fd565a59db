// CPU time per step of each stateful stage of the replay path, from the feature row to the written
// state: aggregate (load, transition, feature rows) → score (input rows, ONNX) → decide (emit rule,
// risk events, reasons) → persist. The stages are called one after the other per batch, as the
// topology does, on the pipeline-throughput bench's simulated file in batches of 1,024 (replay's size).
// The whole-pipeline ratios cannot resolve a fraction of a µs on a shared machine; this can, per stage.
// BENCH_REASONS=0 drops the shipped reasons (top 3, published events at or above the threshold).
import { lastValueFrom, toArray } from 'rxjs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_VALIDATION_RULES } from '../src/events/validate-event.js';
import { loadFeatureSpec } from '../src/features/load-spec.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { validateEvents } from '../src/operators/validate-events.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { microBatch } from '../src/operators/micro-batch.js';
import { aggregateBatch } from '../src/operators/apply-to-state.js';
import { scoreBatch } from '../src/operators/score-steps.js';
import { decideBatch } from '../src/operators/decide-risk.js';
import { persistBatch } from '../src/operators/persist-decisions.js';
import { loadScoringModel } from '../src/scoring/scoring-model.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import { recordToNdjson, resolveSimulatorOptions, simulate, simulationEndTime } from '../src/simulator/index.js';
import { createFileSource } from '../src/sources/file-source.js';
import { FlowControl } from '../src/sources/flow-control.js';
import { buildStateStore } from '../src/compose/state-store.js';
import { fixedClock } from '../src/time/clock.js';
import { BUNDLED_MODEL } from '../src/scoring/bundled-model.js';
import { configSchema } from '../src/config/config-schema.js';
import { DEFAULT_EMIT_POLICY, decisionOptions, modelLoadOptions } from '../src/config/decision-options.js';
import { collectGarbage, median, writeResults } from './harness.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const withReasons = process.env.BENCH_REASONS !== '0';
// The pipeline-throughput bench's file (BENCH_CUSTOMERS, BENCH_DAYS: 2,000 customers over 90 days).
const sim = resolveSimulatorOptions({ customers: Number(process.env.BENCH_CUSTOMERS ?? 2000), days: Number(process.env.BENCH_DAYS ?? 90), seed: 5, badRecords: { rate: 0.002 } });
const file = join(mkdtempSync(join(tmpdir(), 'cf-bench-')), 'events.ndjson');
writeFileSync(file, `${[...simulate(sim)].map(recordToNdjson).join('\n')}\n`);
const clock = fixedClock(simulationEndTime(sim));
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });
const shipped = configSchema.parse({});
const model = await loadScoringModel(BUNDLED_MODEL, spec, modelLoadOptions(shipped));
const options = { processingTime: 'clock' as const, ...(withReasons ? decisionOptions(shipped) : {}) };
const batches = await lastValueFrom(
  createFileSource(file, clock)
    .records(new FlowControl(1 << 30))
    .pipe(decodeRecords(new ActivityCodec()), validateEvents(DEFAULT_VALIDATION_RULES, clock), routeLateEvents({ allowedLatenessMs: 3_600_000 }), microBatch({ maxSize: 1024, maxWaitMs: 1e9 }), toArray()),
);

const STAGES = ['aggregate', 'score', 'decide', 'persist'] as const;
const cpuUs = (): number => {
  const c = process.cpuUsage();
  return c.user + c.system;
};
const perRun = STAGES.map((): number[] => []);
let steps = 0;
for (let round = -1; round < RUNS; round++) {
  collectGarbage(); // untimed: the round before's store is garbage, collected before this round starts (harness.ts)
  const store = buildStateStore(shipped, spec, { kind: 'memory' }); // the shipped state rules (byte budget, dedupe), as `churnflow replay` builds its store
  const spent = [0, 0, 0, 0];
  steps = 0;
  for (const items of batches) {
    let t = cpuUs();
    const aggregated = await aggregateBatch(items, store, spec);
    spent[0]! += cpuUs() - t;
    t = cpuUs();
    const scored = await scoreBatch(aggregated, model);
    spent[1]! += cpuUs() - t;
    t = cpuUs();
    const decided = await decideBatch(scored, DEFAULT_EMIT_POLICY, clock, options);
    spent[2]! += cpuUs() - t;
    t = cpuUs();
    await persistBatch(decided, store);
    spent[3]! += cpuUs() - t;
    steps += aggregated.steps.length;
  }
  if (round >= 0) spent.forEach((us, s) => perRun[s]!.push(us / steps));
}
await model.close();

const us = STAGES.map((_, s) => median(perRun[s]!));
console.log(`\nreplay stages: ${steps.toLocaleString('en-US')} steps in batches of 1,024, reasons ${withReasons ? 'as shipped' : 'off'}, ${RUNS} runs after a warm-up, load average ${loadavg()[0]!.toFixed(2)}`);
console.log(`  CPU µs per step (medians): ${STAGES.map((name, s) => `${name} ${us[s]!.toFixed(2)}`).join(', ')}`);
await writeResults(`replay-stages${withReasons ? '' : '-no-reasons'}`, Object.fromEntries([['steps', steps], ...STAGES.map((name, s) => [`${name}_cpu_us_per_step`, Number(us[s]!.toFixed(3))])]));
