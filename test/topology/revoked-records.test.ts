// A partition revoked while its records wait in the pipeline (a rebalance moved it): the topology
// leaves them to the new owner (src/operators/revoked-records.ts). A batch that holds some when the
// revocation comes runs again without them before writing anything; later batches drop them; their
// credits go back; the revoked partition is never committed again. So this instance's store holds the
// revoked partition's customers exactly as of its last commit (where the new owner starts), and the
// partition it keeps exactly as an uninterrupted run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawRecord } from '../../src/events/activity-event.js';
import { ChurnflowError } from '../../src/errors.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { loadScoringModel, type ScoringModel } from '../../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../../src/simulator/index.js';
import type { FlowControl } from '../../src/sources/flow-control.js';
import { iterateUnderFlowControl, type RecordSource } from '../../src/sources/record-source.js';
import type { CustomerState } from '../../src/state/customer-state.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { LoadedCustomer } from '../../src/state/state-store.js';
import { fixedClock } from '../../src/time/clock.js';
import { runScoring } from '../helpers/run-scoring.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
const sim = resolveSimulatorOptions({ customers: 60, days: 40, seed: 5 });
const now = simulationEndTime(sim);
let model: ScoringModel;

test.before(async () => {
  model = await loadScoringModel(BUNDLED_MODEL, spec);
});
test.after(async () => {
  await model.close();
});

/** The simulator's events on two partitions by customer, each with its own offsets. */
function partitioned(): RawRecord[] {
  const next = [0, 0];
  const out: RawRecord[] = [];
  for (const rec of simulate(sim)) {
    if (rec.type !== 'event') continue;
    const id = rec.event.customer_id;
    const p = [...id].reduce((h, c) => h + c.charCodeAt(0), 0) % 2;
    out.push({ position: { stream: `activity/${p}`, offset: next[p]!++ }, format: 'json-object', value: rec.event, key: id, receivedAt: now });
  }
  return out;
}

/** Emits as a Kafka member would: each record stamped with its partition's ownership epoch; a revoked partition's are no longer fetched. */
class TwoPartitions implements RecordSource {
  readonly name = 'two-partitions';
  readonly epochs = new Map([['activity/0', 1], ['activity/1', 1]]);
  readonly commits: { stream: string; offset: number; current: boolean }[] = [];
  flow: FlowControl | undefined;
  constructor(private readonly input: readonly RawRecord[]) {}
  records(flow: FlowControl) {
    this.flow = flow;
    const self = this;
    return iterateUnderFlowControl(function* () {
      for (const r of self.input) {
        const ownership = self.epochs.get(r.position.stream);
        if (ownership !== undefined) yield { ...r, ownership };
      }
    }, flow, () => false);
  }
  isCurrent(r: RawRecord): boolean {
    return r.ownership !== undefined && this.epochs.get(r.position.stream) === r.ownership;
  }
  async commit(records: readonly RawRecord[]): Promise<void> {
    for (const r of records) this.commits.push({ stream: r.position.stream, offset: r.position.offset, current: this.isCurrent(r) });
  }
  stop(): void {}
  async close(): Promise<void> {}
}

/** Revokes activity/1 while the n-th load is in the stateful stages (a rebalance arriving mid-batch). */
class RevokingStore extends MemoryStateStore {
  loads = 0;
  constructor(private readonly atLoad: number, private readonly revoke: () => void) {
    super({ layout: spec.layout });
  }
  override async load(ids: readonly string[]): Promise<LoadedCustomer[]> {
    if (++this.loads === this.atLoad) this.revoke();
    return super.load(ids);
  }
}

async function states(store: MemoryStateStore): Promise<Map<string, CustomerState>> {
  const out = new Map<string, CustomerState>();
  for await (const page of store.scan()) for (const s of page) out.set(s.customerId, s);
  return out;
}

async function reference(records: readonly RawRecord[]): Promise<Map<string, CustomerState>> {
  const store = new MemoryStateStore({ layout: spec.layout });
  const source: RecordSource = {
    name: 'reference',
    records: (flow) => iterateUnderFlowControl(() => records, flow, () => false),
    commit: async () => {},
    stop: () => {},
    close: async () => {},
  };
  await runScoring(source, store, spec, model, now, { batch: { maxSize: 32, maxWaitMs: 1 }, maxInFlight: 256 });
  return states(store);
}

test('records of a partition revoked mid-run are neither applied nor committed: the kept partition ends as an uninterrupted run, the revoked one as of its last commit, and every credit comes back', async () => {
  const input = partitioned();
  const source = new TwoPartitions(input);
  const store = new RevokingStore(6, () => source.epochs.delete('activity/1'));
  const retries: unknown[] = [];
  await runScoring(source, store, spec, model, now, { batch: { maxSize: 32, maxWaitMs: 1 }, maxInFlight: 256 }, { onRetry: (err) => retries.push(err) });

  assert.equal(source.flow!.outstanding, 0, 'the dropped records\' credits were returned');
  assert.deepEqual(retries.map((e) => (e as ChurnflowError).code), ['CF_PARTITION_REVOKED'], 'the batch in the stages when the revocation came ran again, once');
  assert.deepEqual(source.commits.filter((c) => !c.current), [], 'nothing of the revoked partition committed after the revocation');
  const committed1 = Math.max(...source.commits.filter((c) => c.stream === 'activity/1').map((c) => c.offset)) + 1;
  const total1 = input.filter((r) => r.position.stream === 'activity/1').length;
  assert.ok(committed1 > 0 && committed1 < total1, `activity/1 committed up to ${committed1} of ${total1}`);
  const committed0 = Math.max(...source.commits.filter((c) => c.stream === 'activity/0').map((c) => c.offset)) + 1;
  assert.equal(committed0, input.filter((r) => r.position.stream === 'activity/0').length, 'the kept partition committed to its end');

  const expected = await reference(input.filter((r) => r.position.stream === 'activity/0' || r.position.offset < committed1));
  const actual = await states(store);
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [id, state] of expected) assert.deepEqual(actual.get(id), state, `customer ${id}`);
});

test('without a revocation nothing is dropped and nothing runs again', async () => {
  const input = partitioned();
  const source = new TwoPartitions(input);
  const store = new RevokingStore(Number.POSITIVE_INFINITY, () => {});
  const retries: unknown[] = [];
  await runScoring(source, store, spec, model, now, { batch: { maxSize: 32, maxWaitMs: 1 }, maxInFlight: 256 }, { onRetry: (err) => retries.push(err) });
  assert.deepEqual(retries, []);
  assert.equal(source.flow!.outstanding, 0);
  assert.deepEqual(await states(store), await reference(input));
});

test('every partition revoked mid-run (the member lost them all): the batches left are empty, run through every stage, and the run ends with nothing further applied or committed', async () => {
  const input = partitioned();
  const source = new TwoPartitions(input);
  const store = new RevokingStore(4, () => source.epochs.clear());
  const retries: unknown[] = [];
  const run = await runScoring(source, store, spec, model, now, { batch: { maxSize: 32, maxWaitMs: 1 }, maxInFlight: 256 }, { onRetry: (err) => retries.push(err) });
  assert.equal(source.flow!.outstanding, 0);
  assert.deepEqual(retries.map((e) => (e as ChurnflowError).code), ['CF_PARTITION_REVOKED']);
  assert.deepEqual(source.commits.filter((c) => !c.current), []);
  assert.ok(run.batches >= 4, `the batches after the revocation still completed (${run.batches})`);
  const committedTo = (stream: string) => Math.max(-1, ...source.commits.filter((c) => c.stream === stream).map((c) => c.offset)) + 1;
  const expected = await reference(input.filter((r) => r.position.offset < committedTo(r.position.stream)));
  assert.deepEqual(await states(store), expected);
});
