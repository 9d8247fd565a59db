// A customer's partition is the producer's: kafkajs' default partitioner is Java's murmur2, so the
// vectors of Kafka's own UtilsTest fix it; the members of a group split the customers exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CustomerOwnership, keyPartition } from '../../../../src/sources/kafka/customer-ownership.js';

test("keyPartition is Kafka's murmur2 partitioning (the Java client's test vectors)", () => {
  const javaMurmur2: Record<string, number> = { '21': -973932308, foobar: -790332482, 'a-little-bit-long-string': -985981536, 'a-little-bit-longer-string': -1486304829, lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: -58897971, abc: 479470107 };
  for (const [key, hash] of Object.entries(javaMurmur2)) {
    for (const n of [1, 6, 7, 24]) assert.equal(keyPartition('t', key, n), (hash & 0x7fffffff) % n, `${key} over ${n}`);
  }
  assert.throws(() => keyPartition('t', 'x', 0), /positive integer/);
});

test('members of a group own every customer exactly once (first activity topic decides); nobody before a join', () => {
  const counts = new Map([
    ['a', 6],
    ['b', 3],
  ]);
  const members = [[0, 3], [1, 4], [2, 5]].map((parts) => {
    const o = new CustomerOwnership('a');
    o.update({ assignment: { a: parts, b: [parts[0]! % 3] }, partitionCounts: counts });
    return o;
  });
  const customers = Array.from({ length: 3000 }, (_, i) => `cust-${i}`);
  for (const c of customers) assert.equal(members.filter((m) => m.owns(c)).length, 1, c);
  const shares = members.map((m) => customers.filter((c) => m.owns(c)).length);
  assert.ok(shares.every((n) => n > 800 && n < 1200), shares.join(','));
  const fresh = new CustomerOwnership('a');
  assert.equal(fresh.owns('cust-1'), false);
  fresh.update({ assignment: {}, partitionCounts: counts });
  assert.equal(fresh.owns('cust-1'), false);
});
