import { count, lastValueFrom } from 'rxjs';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
const root = '/work/main/dist';
const { churnScoringTopology } = await import(`${root}/topologies/churn-scoring.topology.js`);
const { DEFAULT_VALIDATION_RULES } = await import(`${root}/src/events/validate-event.js`);
const { loadFeatureSpec } = await import(`${root}/src/features/load-spec.js`);
const { loadScoringModel } = await import(`${root}/src/scoring/scoring-model.js`);
const { ActivityCodec } = await import(`${root}/src/serde/activity-codec.js`);
const { resolveSimulatorOptions, simulate, simulationEndTime, recordToNdjson } = await import(`${root}/src/simulator/index.js`);
const { createFileSource } = await import(`${root}/src/sources/file-source.js`);
const { MemoryStateStore } = await import(`${root}/src/state/memory-store.js`);
const { fixedClock } = await import(`${root}/src/time/clock.js`);
const { BUNDLED_MODEL } = await import(`${root}/src/scoring/bundled-model.js`);
const sim = resolveSimulatorOptions({ customers: 600, days: 60, seed: 5, badRecords: { rate: 0.002 } });
const file = join(mkdtempSync(join(tmpdir(), 'p-')), 'e.ndjson');
writeFileSync(file, [...simulate(sim)].map(recordToNdjson).join('\n') + '\n');
const clock = fixedClock(simulationEndTime(sim));
const spec = loadFeatureSpec('builtin:churn_default', { allowedLatenessMs: 3_600_000 });
const model = await loadScoringModel(BUNDLED_MODEL, spec);
const discard = () => ({ name: 'd', write: async () => {}, flush: async () => {}, close: async () => {} });
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  await lastValueFrom(churnScoringTopology({ source: createFileSource(file, clock), decoder: new ActivityCodec(), rules: DEFAULT_VALIDATION_RULES, store: new MemoryStateStore({ layout: spec.layout }), spec, model: () => model, sinks: { risk: discard(), deadLetter: discard(), late: discard() }, clock }, { allowedLatenessMs: 3_600_000, batch: { maxSize: 512, maxWaitMs: 20 }, maxInFlight: 4096, risk: { emit: 'change', minScoreDelta: 0.02 } }).pipe(count()));
  console.log('run ms', Math.round(performance.now() - t0));
}
await model.close();
