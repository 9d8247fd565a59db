// The per-stage trace that bench/kafka-e2e's latency breakdown reads: every record passes every stage
// once, in the order of the path, and the trace leaves the outputs unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import type { TraceStage } from '../../src/operators/trace-stages.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { loadScoringModel } from '../../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulationEndTime } from '../../src/simulator/index.js';
import { createSimulatorSource } from '../../src/sources/simulator-source.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { fixedClock } from '../../src/time/clock.js';
import { runScoring } from '../helpers/run-scoring.js';

const PATH: readonly TraceStage[] = ['received', 'batched', 'loaded', 'scored', 'decided', 'persisted', 'produced', 'committed'];

test('the stage trace sees every record at every stage once, in path order, and changes no output', async () => {
  const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
  const sim = resolveSimulatorOptions({ customers: 40, days: 20, seed: 5, badRecords: { rate: 0.02 } });
  const now = simulationEndTime(sim);
  const model = await loadScoringModel(BUNDLED_MODEL, spec);
  try {
    const seen = new Map<string, TraceStage[]>();
    let seq = 0;
    const order = new Map<string, number[]>();
    const traced = await runScoring(createSimulatorSource(sim, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, model, now, { batch: { maxSize: 16, maxWaitMs: 5 } }, {
      trace: (stage, items) => {
        seq++;
        for (const item of items) {
          const key = `${item.record.position.stream}@${item.record.position.offset}`;
          seen.set(key, [...(seen.get(key) ?? []), stage]);
          order.set(key, [...(order.get(key) ?? []), seq]);
        }
      },
    });
    const plain = await runScoring(createSimulatorSource(sim, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, model, now, { batch: { maxSize: 16, maxWaitMs: 5 } });
    assert.ok(seen.size > 500, `records traced: ${seen.size}`);
    for (const [key, stages] of seen) assert.deepEqual(stages, PATH, `stages of ${key}`);
    for (const [key, seqs] of order) assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), `stage calls of ${key} in order`);
    assert.ok(traced.deadLetters.length > 0, 'bad records were traced too (they are acknowledged with their batch)');
    assert.deepEqual(traced.risk.map((r) => r.event_id), plain.risk.map((r) => r.event_id));
  } finally {
    await model.close();
  }
});
