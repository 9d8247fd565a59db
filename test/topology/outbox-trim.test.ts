// Committed outbox entries are deleted right after their batch's commit (src/state/outbox-trimmer.ts),
// not at their customer's next write: once the input is drained, no customer holds one. Entries of
// commits the source did not confirm stay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { loadScoringModel, type ScoringModel } from '../../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulationEndTime } from '../../src/simulator/index.js';
import type { RecordSource } from '../../src/sources/record-source.js';
import { createSimulatorSource } from '../../src/sources/simulator-source.js';
import type { CustomerState } from '../../src/state/customer-state.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { CustomerWrite, OutboxDrop } from '../../src/state/state-store.js';
import { fixedClock } from '../../src/time/clock.js';
import { runScoring } from '../helpers/run-scoring.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
const sim = resolveSimulatorOptions({ customers: 80, days: 30, seed: 11 });
const now = simulationEndTime(sim);
let model: ScoringModel;

test.before(async () => {
  model = await loadScoringModel(BUNDLED_MODEL, spec);
});
test.after(async () => {
  await model.close();
});

/** A memory store that notes the outbox entries written and the ones dropped. */
class WatchedStore extends MemoryStateStore {
  written = 0;
  dropped: OutboxDrop[] = [];
  override async write(writes: readonly CustomerWrite[]): Promise<readonly string[]> {
    for (const w of writes) this.written += Object.keys(w.state.outbox).length;
    return super.write(writes);
  }
  override async dropOutbox(drops: readonly OutboxDrop[]): Promise<void> {
    this.dropped.push(...drops);
    return super.dropOutbox(drops);
  }
}

async function allStates(store: MemoryStateStore): Promise<CustomerState[]> {
  const out: CustomerState[] = [];
  for await (const page of store.scan()) out.push(...page);
  return out;
}

test('after a drained run no customer holds a committed outbox entry; the deletes followed the commits', async () => {
  const store = new WatchedStore({ layout: spec.layout });
  const run = await runScoring(createSimulatorSource(sim, fixedClock(now)), store, spec, model, now, { batch: { maxSize: 64, maxWaitMs: 1 }, maxInFlight: 256 });
  assert.ok(run.risk.length > 20, `decisions stored: ${run.risk.length} risk events`);
  assert.ok(store.written > 0, 'outbox entries were written with the states');
  const holding = (await allStates(store)).filter((s) => Object.keys(s.outbox).length > 0);
  assert.deepEqual(holding.map((s) => `${s.customerId}: ${Object.keys(s.outbox).join(', ')}`), [], 'no outbox entry left at rest');
  assert.ok(store.dropped.length > 0);
  assert.ok(store.dropped.every((d) => d.keys.length > 0), 'only customers with something to delete are sent');
});

test('entries of commits the source did not confirm stay (a Kafka commit refused after a rebalance)', async () => {
  const inner = createSimulatorSource(sim, fixedClock(now));
  const refusing: RecordSource = {
    name: inner.name,
    records: (flow) => inner.records(flow),
    commit: async (records) => {
      await inner.commit(records);
      return new Set<string>(); // no stream confirmed
    },
    stop: () => inner.stop(),
    close: () => inner.close(),
  };
  const store = new WatchedStore({ layout: spec.layout });
  const run = await runScoring(refusing, store, spec, model, now, { batch: { maxSize: 64, maxWaitMs: 1 }, maxInFlight: 256 });
  assert.ok(run.risk.length > 20);
  assert.deepEqual(store.dropped, [], 'nothing deleted without a confirmed commit');
  const entries = (await allStates(store)).reduce((n, s) => n + Object.keys(s.outbox).length, 0);
  assert.ok(entries >= run.risk.length, `every decision's entry is still stored (${entries} entries, ${run.risk.length} risk events)`);
});
