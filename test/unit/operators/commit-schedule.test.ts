// The commit schedule (src/operators/commit-schedule.ts): with write-behind, a commit never covers a
// record whose state is unwritten; pending states are written once they waited the delay (or early,
// beyond maxPending); a refused commit is tried again; the drain writes and commits everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawRecord } from '../../../src/events/activity-event.js';
import { CommitSchedule, type WriteBehind } from '../../../src/operators/commit-schedule.js';
import { CommittedOffsets } from '../../../src/sources/committed-offsets.js';

const rec = (stream: string, offset: number): RawRecord => ({ position: { stream, offset }, format: 'json', value: '{}', receivedAt: 0 });

/** A write-behind store reduced to what the schedule reads: pending customers as (since, stream, first offset). */
class FakePending {
  pending: { id: string; since: number; stream: string; offset: number }[] = [];
  flushes: { until: number | undefined; max: number | undefined; wrote: string[] }[] = [];
  get pendingCustomers(): number {
    return this.pending.length;
  }
  firstUnwritten(stream: string): number | undefined {
    const offsets = this.pending.filter((p) => p.stream === stream).map((p) => p.offset);
    return offsets.length === 0 ? undefined : Math.min(...offsets);
  }
  async flush(until?: number, max = Number.POSITIVE_INFINITY): Promise<void> {
    const wrote = this.pending.filter((p) => until === undefined || p.since <= until).slice(0, max);
    this.pending = this.pending.filter((p) => !wrote.includes(p));
    this.flushes.push({ until, max: Number.isFinite(max) ? max : undefined, wrote: wrote.map((p) => p.id) });
  }
}

function setup(maxPending = 100, refuse: Set<string> = new Set(), maxPerBatch?: number) {
  const commits: [string, number][][] = [];
  const source = {
    commit: async (records: readonly RawRecord[]) => {
      commits.push(records.map((r) => [r.position.stream, r.position.offset]));
      return new Set(records.map((r) => r.position.stream).filter((s) => !refuse.has(s)));
    },
  };
  let now = 1_000;
  const store = new FakePending();
  const committed = new CommittedOffsets();
  const afterCommit: number[] = [];
  const writeBehind: WriteBehind = { store, delayMs: 500, maxPending, ...(maxPerBatch !== undefined ? { maxPerBatch } : {}) };
  const schedule = new CommitSchedule(source, committed, { clock: { now: () => now }, writeBehind, retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 }, afterCommit: () => afterCommit.push(commits.length) });
  return { schedule, store, commits, committed, afterCommit, advance: (ms: number) => (now += ms), refuse };
}

test('a commit stops right before the first record of an unwritten state, and moves on once it is written', async () => {
  const { schedule, store, commits, committed, advance } = setup();
  store.pending.push({ id: 'a', since: 1_000, stream: 's/0', offset: 5 });
  await schedule.processed([rec('s/0', 3), rec('s/0', 4), rec('s/0', 5), rec('s/0', 6), rec('s/1', 9)]);
  assert.deepEqual(commits, [[['s/0', 4], ['s/1', 9]]], 's/0 up to offset 4 (next 5: the unwritten record), s/1 all');
  assert.deepEqual([...committed.snapshot()], [['s/0', 5], ['s/1', 10]]);
  await schedule.processed([rec('s/0', 7)]);
  assert.equal(commits.length, 1, 'nothing new to commit while the cap stays (no repeated commit)');
  advance(500);
  await schedule.processed([rec('s/0', 8)]);
  assert.deepEqual(store.flushes.at(-1)!.wrote, ['a'], 'written once it waited the delay');
  assert.deepEqual(commits.at(-1), [['s/0', 8]]);
  assert.equal(committed.snapshot().get('s/0'), 9);
});

test('beyond maxPending the oldest are written early, down to three quarters', async () => {
  const { schedule, store } = setup(8);
  for (let i = 0; i < 10; i++) store.pending.push({ id: `c${i}`, since: 1_000, stream: 's/0', offset: i });
  await schedule.processed([rec('s/0', 9)]);
  const early = store.flushes.find((f) => f.max !== undefined)!;
  assert.equal(early.max, 2 + 2, 'two over the bound, plus a quarter of it');
  assert.deepEqual(early.wrote, ['c0', 'c1', 'c2', 'c3']);
  assert.equal(store.pendingCustomers, 6);
});

test('after a batch at most maxPerBatch due states are written, oldest first, and the commit stops before the rest; an idle tick writes every due one', async () => {
  const { schedule, store, commits, advance } = setup(100, new Set(), 2);
  for (let i = 0; i < 5; i++) store.pending.push({ id: `c${i}`, since: 1_000, stream: 's/0', offset: 10 + i });
  advance(500);
  await schedule.processed([rec('s/0', 20)]);
  assert.deepEqual(store.flushes.map((f) => f.wrote), [['c0', 'c1']], 'two of the five due');
  assert.deepEqual(commits.at(-1), [['s/0', 11]], 'up to before c2, the first still unwritten');
  await schedule.processed([rec('s/0', 21)]);
  assert.deepEqual(store.flushes.at(-1)!.wrote, ['c2', 'c3'], 'the next batch writes the next two');
  assert.deepEqual(commits.at(-1), [['s/0', 13]]);
  await schedule.tick();
  assert.deepEqual(store.flushes.at(-1)!.wrote, ['c4'], 'a tick writes every due state');
  assert.deepEqual(commits.at(-1), [['s/0', 21]]);
});

test('maxPerBatch does not hold the pending count above maxPending', async () => {
  const { schedule, store } = setup(8, new Set(), 1);
  for (let i = 0; i < 10; i++) store.pending.push({ id: `c${i}`, since: 1_000, stream: 's/0', offset: i });
  await schedule.processed([rec('s/0', 9)]);
  assert.equal(store.pendingCustomers, 6, 'none due yet, but two over the bound: written early down to three quarters');
});

test('a refused commit (a rebalance) confirms nothing and is sent again with the next batch', async () => {
  const refuse = new Set(['s/0']);
  const { schedule, commits, committed, afterCommit } = setup(100, refuse);
  await schedule.processed([rec('s/0', 1)]);
  assert.equal(committed.snapshot().get('s/0'), undefined);
  refuse.clear();
  await schedule.processed([rec('s/0', 2)]);
  assert.deepEqual(commits, [[['s/0', 1]], [['s/0', 2]]]);
  assert.equal(committed.snapshot().get('s/0'), 3);
  assert.deepEqual(afterCommit, [1, 2]);
});

test('an idle tick writes what waited the delay and commits what that made safe; finish writes and commits all', async () => {
  const { schedule, store, commits, advance } = setup();
  store.pending.push({ id: 'a', since: 1_000, stream: 's/0', offset: 2 }, { id: 'b', since: 1_400, stream: 's/0', offset: 3 });
  await schedule.processed([rec('s/0', 4)]);
  assert.deepEqual(commits, [[['s/0', 1]]]);
  advance(600);
  await schedule.tick();
  assert.deepEqual(store.flushes.at(-1)!.wrote, ['a']);
  assert.deepEqual(commits.at(-1), [['s/0', 2]], 'up to b\'s record');
  await schedule.finish();
  assert.deepEqual(store.flushes.at(-1), { until: undefined, max: undefined, wrote: ['b'] });
  assert.deepEqual(commits.at(-1), [['s/0', 4]]);
  const sent = commits.length;
  await schedule.tick();
  assert.equal(commits.length, sent, 'nothing held: an idle tick sends nothing');
});

test('without write-behind every batch is committed whole', async () => {
  const commits: number[] = [];
  const schedule = new CommitSchedule({ commit: async (rs) => void commits.push(...rs.map((r) => r.position.offset)) }, undefined, { clock: { now: () => 0 }, retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 } });
  await schedule.processed([rec('s/0', 1), rec('s/0', 2)]);
  await schedule.processed([rec('s/0', 3)]);
  assert.deepEqual(commits, [2, 3]);
});

test('a stream revoked after its records were processed is never committed by this member; assigned again, only records of the new ownership commit', async () => {
  const commits: [string, number][][] = [];
  const epochs = new Map<string, number>([['s/0', 1], ['s/1', 1]]);
  const source = {
    commit: async (records: readonly RawRecord[]) => {
      commits.push(records.map((r) => [r.position.stream, r.position.offset]));
      return new Set(records.map((r) => r.position.stream));
    },
    isCurrent: (r: RawRecord) => r.ownership !== undefined && epochs.get(r.position.stream) === r.ownership,
  };
  const store = new FakePending();
  const committed = new CommittedOffsets();
  const schedule = new CommitSchedule(source, committed, { clock: { now: () => 0 }, writeBehind: { store, delayMs: 500, maxPending: 100 }, retry: { maxAttempts: 1, initialDelayMs: 0, maxDelayMs: 0 } });
  const owned = (stream: string, offset: number): RawRecord => ({ ...rec(stream, offset), ownership: epochs.get(stream)! });
  store.pending.push({ id: 'a', since: 0, stream: 's/0', offset: 3 });
  const earlier = [owned('s/0', 2), owned('s/0', 3), owned('s/0', 4), owned('s/1', 7)];
  await schedule.processed(earlier);
  assert.deepEqual(commits, [[['s/0', 2], ['s/1', 7]]], 's/0 stops before the unwritten state');
  // The rebalance: s/0 goes to another member, which starts at the group's offset (3) and commits past it.
  epochs.delete('s/0');
  await schedule.processed([owned('s/1', 8)]);
  await schedule.tick();
  await schedule.finish(); // writes the pending state: s/0 would now be committable to 5 — behind its new owner
  assert.deepEqual(commits.slice(1), [[['s/1', 8]]], 's/0 is not committed after the revocation, not even by the drain');
  assert.equal(committed.snapshot().get('s/0'), 3);
  // Assigned back later (a new epoch): a late record of the earlier ownership still is not committed; new ones are.
  epochs.set('s/0', 2);
  await schedule.processed([earlier[2]!]);
  assert.equal(commits.length, 2, 'a record of the earlier ownership');
  await schedule.processed([owned('s/0', 9)]);
  assert.deepEqual(commits.at(-1), [['s/0', 9]]);
  assert.equal(committed.snapshot().get('s/0'), 10);
});
