import { test } from 'node:test';
import assert from 'node:assert/strict';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { Routed } from '../../../src/events/routed.js';
import { customerShard, ownShard, shardOf } from '../../../src/operators/own-shard.js';
import { FlowControl } from '../../../src/sources/flow-control.js';
import { ev, raw } from '../../helpers/events.js';

const accepted = (customer: string, offset: number): Routed => ({ tag: 'accepted', record: raw({}, offset), event: ev('login', customer, 1000 + offset) });
const rejected = (offset: number): Routed => ({ tag: 'rejected', record: raw({}, offset), route: 'dead-letter', code: 'X', detail: 'y' });

test('every record is owned by exactly one shard; a customer by one shard whatever its records', async () => {
  const items: Routed[] = [];
  for (let i = 0; i < 600; i++) items.push(i % 7 === 0 ? rejected(i) : accepted(`c${i % 53}`, i));
  for (const count of [1, 2, 3, 5]) {
    const kept = await Promise.all(
      Array.from({ length: count }, async (_, index) => {
        const flow = new FlowControl(10_000);
        for (let i = 0; i < items.length; i++) assert.ok(flow.tryAcquire());
        const out = await lastValueFrom(from(items).pipe(ownShard({ index, count }, flow), toArray()));
        // Dropped records returned their credits; kept ones still hold theirs.
        assert.equal(flow.outstanding, out.length);
        return out;
      }),
    );
    const offsets = kept.flat().map((r) => r.record.position.offset).sort((a, b) => a - b);
    assert.deepEqual(offsets, items.map((r) => r.record.position.offset), `${count} shards: each record once`);
    for (const [index, out] of kept.entries()) {
      for (const r of out) if (r.tag === 'accepted') assert.equal(customerShard(r.event.customerId, count), index);
    }
    if (count > 1) assert.ok(kept.every((out) => out.length > 0), 'each shard gets a share');
  }
});

test('the customer hash is stable (FNV-1a) and spreads customers', () => {
  assert.equal(customerShard('', 1 << 30), 0x811c9dc5 % (1 << 30));
  assert.equal(customerShard('a', 1000), 0xe40c292c % 1000);
  const counts = [0, 0, 0, 0];
  for (let i = 0; i < 4000; i++) counts[customerShard(`cust-${i}`, 4)]!++;
  assert.ok(counts.every((c) => c > 850 && c < 1150), `balanced: ${counts.join(' ')}`);
  assert.equal(shardOf(rejected(10), 4), 2);
});

test('a shard outside its count is refused', () => {
  assert.throws(() => ownShard({ index: 2, count: 2 }, new FlowControl(1)), /0 ≤ index < count/);
  assert.throws(() => ownShard({ index: 0, count: 0 }, new FlowControl(1)), /0 ≤ index < count/);
});
