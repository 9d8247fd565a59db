import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capacityTable, DEFAULT_ASSUMPTIONS, planCapacity, type MeasuredFigures } from '../../../bench/capacity-plan.js';

const source = (bench: string) => ({ bench, measuredAt: '2026-12-04T17:00:00.000Z', machine: '2 × Test CPU, 8 GiB, Node v20.20.2', loadAvg1m: 3.5 });

// Round figures so every number below can be checked by hand.
const figures = (over: Partial<MeasuredFigures['redis']> = {}): MeasuredFigures => ({
  redis: { source: source('redis-state'), bytesPerTenuredCustomer: 4000, bytesPerCustomerMean: 3500, usedMemoryPerCustomer: 3600, usecPerCustomerWrite: 50, simulatedEventsPerCustomerDay: 1.3, ...over },
  instance: { source: source('kafka-e2e'), eventsPerCpuSecond: 10_000, eventsPerSecondWall: 4_000 },
});

test('10M customers: events from the stated rate, instances from the measured throughput, Redis from measured bytes and µs', () => {
  const p = planCapacity(10e6, figures());
  assert.equal(Math.round(p.averageEventsPerSecond), 3472); // 10M × 30 / 86,400
  assert.equal(Math.round(p.peakEventsPerSecond), 17_361); // × 5
  assert.equal(p.instances, 3); // 17,361 / (10,000 × 0.7) = 2.48
  assert.equal(p.partitions, 12); // ≥ 2 × 3, first step
  assert.equal(p.usedMemoryBytes, 10e6 * 4100); // tenured 4,000 + (3,600 − 3,500) per-key overhead
  assert.equal(p.rssBytes, 10e6 * 4100 * 1.2);
  assert.equal(p.shardsForMemory, 3); // 41 GB / (25 GB × 0.8 fill) = 2.05
  assert.equal(p.shardsForThroughput, 2); // 17,361 / (10⁶ / 50 µs × 0.5 = 10,000)
  assert.equal(p.shards, 3);
  assert.equal(Math.round(p.hostRamBytesWithReplicas), Math.round(41e9 * 1.2 * 1.5 * 2)); // all shards' RSS × fork headroom × (1 + 1 replica)
});

test('100M customers: throughput can need more shards than memory; partitions go to the next step', () => {
  const p = planCapacity(100e6, figures());
  assert.equal(p.instances, 25); // 173,611 / 7,000 = 24.8
  assert.equal(p.partitions, 96); // ≥ 50
  assert.equal(p.shardsForMemory, 21); // 410 GB / 20 GB = 20.5
  assert.equal(p.shardsForThroughput, 18); // 173,611 / 10,000
  assert.equal(p.shards, 21);
  // with compact state (a third of the bytes) throughput decides
  const compact = planCapacity(100e6, figures({ bytesPerTenuredCustomer: 1200, bytesPerCustomerMean: 1000, usedMemoryPerCustomer: 1100 }));
  assert.equal(compact.shardsForMemory, 7); // 130 GB / 20 GB = 6.5
  assert.equal(compact.shards, 18);
});

test('the plan follows the figures: more bytes per customer, more shards; a faster instance, fewer instances; at least 2 instances', () => {
  const base = planCapacity(100e6, figures());
  const compact = planCapacity(100e6, figures({ bytesPerTenuredCustomer: 1500, bytesPerCustomerMean: 1300, usedMemoryPerCustomer: 1400 }));
  assert.ok(compact.shardsForMemory < base.shardsForMemory, `${compact.shardsForMemory} < ${base.shardsForMemory}`);
  assert.equal(compact.usedMemoryBytes, 100e6 * 1600);
  const faster = planCapacity(100e6, { ...figures(), instance: { source: source('kafka-e2e'), eventsPerCpuSecond: 40_000, eventsPerSecondWall: 9_000 } });
  assert.equal(faster.instances, 7); // 173,611 / 28,000 = 6.2; the wall-clock rate of a shared machine plays no part
  assert.equal(planCapacity(100e6, figures(), { ...DEFAULT_ASSUMPTIONS, coresPerInstance: 2 }).instances, 13); // 173,611 / 14,000 = 12.4
  assert.equal(planCapacity(1000, figures()).instances, 2);
  // a used_memory drop below MEMORY USAGE (measurement noise) adds no negative overhead
  assert.equal(planCapacity(1e6, figures({ usedMemoryPerCustomer: 3000 })).usedMemoryBytes, 1e6 * 4000);
  // the assumptions are inputs too
  assert.equal(planCapacity(10e6, figures(), { ...DEFAULT_ASSUMPTIONS, eventsPerCustomerDay: 60 }).instances, 5); // 34,722 / 7,000
  assert.throws(() => planCapacity(0, figures()), RangeError);
});

test('every line says where it comes from: measured lines cite bench, date and machine; the rest name the assumption', () => {
  const p = planCapacity(10e6, figures());
  const byName = new Map(p.lines.map((l) => [l.quantity, l]));
  assert.match(byName.get('events/s one instance sustains')!.from, /^measured, production path: 10,000 events per CPU-second .* × 1 core per instance \(wall clock on the shared bench machine: 4,000\/s\); `npm run bench -- kafka-e2e`, 2026-12-04, 2 × Test CPU, 8 GiB, Node v20\.20\.2, load 3\.5/);
  assert.match(byName.get('Redis bytes per customer (MEMORY USAGE)')!.from, /`npm run bench -- redis-state`, 2026-12-04/);
  assert.match(byName.get('events/s, daily mean')!.from, /^assumption: 30 events per customer per day \(the simulator produces 1\.3\)/);
  assert.match(byName.get('Redis RSS')!.from, /^assumption: fragmentation 1\.2×/);
  for (const l of p.lines) assert.ok(l.from.length > 0 && l.value.length > 0, l.quantity);
  const table = capacityTable([p, planCapacity(100e6, figures())]).split('\n');
  assert.equal(table[0], '| quantity | 10M customers | 100M customers | from |');
  assert.equal(table.length, 2 + p.lines.length);
  assert.match(table.find((r) => r.startsWith('| Redis Cluster shards'))!, /^\| Redis Cluster shards \(masters\) \| 3 \| 21 \|/);
});
