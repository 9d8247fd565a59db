// The outbox trimmer: which entries it deletes (below the committed offset of their stream), that it
// does not wait for the store, and that a failed delete is reported and tried again (next trim, drain).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyState, isCommittedKey, outboxKey, outboxKeyOffset, outboxKeyStream, type CustomerState } from '../../../src/state/customer-state.js';
import { OutboxTrimmer } from '../../../src/state/outbox-trimmer.js';
import type { OutboxDrop } from '../../../src/state/state-store.js';

const withOutbox = (id: string, keys: string[]): CustomerState => ({ ...emptyState(id), outbox: Object.fromEntries(keys.map((k) => [k, 'x'])) });

class FakeStore {
  calls: OutboxDrop[][] = [];
  failures = 0;
  async dropOutbox(drops: readonly OutboxDrop[]): Promise<void> {
    this.calls.push(drops.map((d) => ({ customerId: d.customerId, keys: [...d.keys] })));
    if (this.failures > 0) {
      this.failures--;
      throw new Error('redis away');
    }
  }
}

test('deletes only entries below the committed offset of their own stream, one drop per customer holding some', async () => {
  const store = new FakeStore();
  const trimmer = new OutboxTrimmer(store);
  trimmer.trim([withOutbox('a', ['p0@1', 'p0@5', 'p1@2']), withOutbox('b', ['p0@9']), withOutbox('c', [])], new Map([['p0', 5], ['p1', 3]]));
  await trimmer.settle();
  assert.deepEqual(store.calls, [[{ customerId: 'a', keys: ['p0@1', 'p1@2'] }]]);
  trimmer.trim([withOutbox('a', ['p0@1'])], new Map());
  await trimmer.settle();
  assert.equal(store.calls.length, 1, 'nothing committed: no call');
});

test('starts the delete at once without waiting for it; settle waits', async () => {
  let resolve!: () => void;
  const calls: OutboxDrop[][] = [];
  const store = { dropOutbox: (d: readonly OutboxDrop[]) => (calls.push([...d]), new Promise<void>((r) => (resolve = r))) };
  const trimmer = new OutboxTrimmer(store);
  trimmer.trim([withOutbox('a', ['p0@1'])], new Map([['p0', 2]]));
  assert.equal(calls.length, 1, 'called synchronously (a hot cache updates its copies before the next batch loads)');
  let settled = false;
  const s = trimmer.settle().then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false);
  resolve();
  await s;
  assert.equal(settled, true);
});

test('a failed delete is reported, never thrown, and sent again with the next trim and at settle', async () => {
  const store = new FakeStore();
  store.failures = 2;
  const errors: number[] = [];
  const trimmer = new OutboxTrimmer(store, { onError: (_err, customers) => errors.push(customers) });
  trimmer.trim([withOutbox('a', ['p0@1'])], new Map([['p0', 2]]));
  await trimmer.settle(); // fails, then the retry at settle fails too
  assert.deepEqual(errors, [1, 1]);
  assert.equal(trimmer.pending, 1);
  trimmer.trim([withOutbox('a', ['p0@2']), withOutbox('b', ['p0@1'])], new Map([['p0', 3]]));
  await trimmer.settle();
  assert.deepEqual(store.calls.at(-1), [
    { customerId: 'a', keys: ['p0@2', 'p0@1'] },
    { customerId: 'b', keys: ['p0@1'] },
  ]);
  assert.equal(trimmer.pending, 0);
});

test('failed deletes kept for a retry are bounded', async () => {
  const store = new FakeStore();
  store.failures = 1;
  const trimmer = new OutboxTrimmer(store, { maxRetained: 2 });
  trimmer.trim(['a', 'b', 'c', 'd'].map((id) => withOutbox(id, ['p0@1'])), new Map([['p0', 2]]));
  await new Promise((r) => setImmediate(r));
  assert.equal(trimmer.pending, 2);
});

test('an outbox key splits at its last @: a file stream named after a file with @ in its name keeps its name', () => {
  for (const position of [{ stream: 'churnflow.activity-2', offset: 41 }, { stream: 'file:events@2026-12.ndjson', offset: 0 }, { stream: 'a@b@c', offset: 9_007_199_254_740_991 }]) {
    const key = outboxKey(position);
    assert.equal(outboxKeyStream(key), position.stream);
    assert.equal(outboxKeyOffset(key), position.offset);
  }
  const committed = new Map([['file:events@2026-12.ndjson', 10]]);
  assert.equal(isCommittedKey('file:events@2026-12.ndjson@9', committed), true);
  assert.equal(isCommittedKey('file:events@2026-12.ndjson@10', committed), false);
  assert.equal(isCommittedKey('other@1', committed), false);
});
