// TrimOnCommit (src/operators/trim-committed.ts): after a commit, the customers held with outbox entries
// below it get those entries deleted; a customer with entries beyond the commit waits for a later one;
// one whose entries are all of streams this engine does not commit stops waiting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DecidedBatch } from '../../../src/operators/batch.js';
import { TrimOnCommit } from '../../../src/operators/trim-committed.js';
import { CommittedOffsets } from '../../../src/sources/committed-offsets.js';
import { emptyState, type CustomerState } from '../../../src/state/customer-state.js';
import { OutboxTrimmer } from '../../../src/state/outbox-trimmer.js';
import type { OutboxDrop } from '../../../src/state/state-store.js';

function customer(id: string, keys: readonly string[]): CustomerState {
  const s = emptyState(id);
  for (const k of keys) s.outbox[k] = `decision ${k}`;
  return s;
}

/** A batch reduced to what hold() reads: its staged states. */
const batchOf = (...states: CustomerState[]): DecidedBatch => ({ staged: states.map((state) => ({ state })) }) as unknown as DecidedBatch;

function setup(failFirst = 0) {
  const drops: OutboxDrop[][] = [];
  let failures = failFirst;
  const trimmer = new OutboxTrimmer({
    dropOutbox: async (batch) => {
      if (failures-- > 0) throw new Error('redis away');
      drops.push(batch.map((d) => ({ customerId: d.customerId, keys: [...d.keys].sort() })));
    },
  });
  const committed = new CommittedOffsets();
  const trim = new TrimOnCommit(trimmer, committed);
  return { drops, trimmer, committed, trim };
}

test('entries below the commit are deleted; a customer with entries beyond it is trimmed again at the next commit', async () => {
  const { drops, trimmer, committed, trim } = setup();
  const a = customer('a', ['t/0@3', 't/0@10']);
  const b = customer('b', ['t/0@4']);
  trim.hold(batchOf(a, b));
  committed.confirm('t/0', 5);
  trim.committedNow();
  await trimmer.settle();
  assert.deepEqual(drops, [[{ customerId: 'a', keys: ['t/0@3'] }, { customerId: 'b', keys: ['t/0@4'] }]]);
  // The store deleted them; the live state is what the next commit reads.
  delete a.outbox['t/0@3'];
  delete b.outbox['t/0@4'];
  committed.confirm('t/0', 11);
  trim.committedNow();
  await trimmer.settle();
  assert.deepEqual(drops[1], [{ customerId: 'a', keys: ['t/0@10'] }], 'only a waited for the second commit');
  committed.confirm('t/0', 20);
  trim.committedNow();
  await trimmer.settle();
  assert.equal(drops.length, 2, 'nobody waits any more');
});

test('a customer whose entries are all beyond the commit waits without a delete; entries of a stream never committed do not keep it', async () => {
  const { drops, trimmer, committed, trim } = setup();
  const c = customer('c', ['t/1@50']);
  const d = customer('d', ['other/0@1']);
  trim.hold(batchOf(c, d));
  committed.confirm('t/1', 10);
  trim.committedNow();
  await trimmer.settle();
  assert.deepEqual(drops, [], 'nothing below the commit');
  committed.confirm('t/1', 51);
  committed.confirm('other/0', 5);
  trim.committedNow();
  await trimmer.settle();
  assert.deepEqual(drops, [[{ customerId: 'c', keys: ['t/1@50'] }]], "d stopped waiting at the first commit: its stream was not this engine's then");
});

test('entries added by a later batch are picked up when it holds the customer again', async () => {
  const { drops, trimmer, committed, trim } = setup();
  const e = customer('e', ['t/0@1']);
  trim.hold(batchOf(e));
  e.outbox['t/0@7'] = 'decision t/0@7';
  trim.hold(batchOf(e));
  committed.confirm('t/0', 8);
  trim.committedNow();
  await trimmer.settle();
  assert.deepEqual(drops, [[{ customerId: 'e', keys: ['t/0@1', 't/0@7'] }]]);
});

test('a failed delete is sent again at the next commit even when no customer is due then', async () => {
  const { drops, trimmer, committed, trim } = setup(1);
  trim.hold(batchOf(customer('f', ['t/0@1'])));
  committed.confirm('t/0', 2);
  trim.committedNow(); // f's delete fails; f has nothing beyond the commit, so it stops waiting
  await new Promise((r) => setImmediate(r));
  assert.equal(trimmer.pending, 1);
  trim.hold(batchOf(customer('g', ['t/0@40'])));
  committed.confirm('t/0', 3);
  trim.committedNow(); // g is not due: only the retained delete goes
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(drops, [[{ customerId: 'f', keys: ['t/0@1'] }]]);
  assert.equal(trimmer.pending, 0);
});
