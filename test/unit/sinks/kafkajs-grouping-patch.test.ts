// kafkajs 2.2.4 groups a send's messages by partition with a copy of the partition's array per
// message (O(n²): ≈18 ms per send of 8,192 messages on 3 partitions, at every risk-event batch of a
// catch-up). patches/kafkajs+2.2.4.patch, applied by `npm ci` (postinstall: patch-package) and in the
// image's build stage, makes it linear. These fail when the installed kafkajs is not the patched one,
// or when the patched grouping differs from the original by one message or one position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Partitioners, type PartitionerArgs, type PartitionMetadata } from 'kafkajs';

const require = createRequire(import.meta.url);
const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');

interface Message {
  key: string | null;
  value: string;
  partition?: number;
}
type Group = (args: { topic: string; partitionMetadata: PartitionMetadata[]; messages: Message[]; partitioner: (a: PartitionerArgs) => number }) => Record<string, Message[]>;
const installed = require(path) as Group;

// kafkajs 2.2.4's own code, the reference the patch must equal.
const original: Group = ({ topic, partitionMetadata, messages, partitioner }) => {
  if (partitionMetadata.length === 0) return {};
  return messages.reduce<Record<string, Message[]>>((result, message) => {
    const partition = partitioner({ topic, partitionMetadata, message });
    const current = result[partition] || [];
    return Object.assign(result, { [partition]: [...current, message] });
  }, {});
};

test('the installed kafkajs carries the linear grouping patch', () => {
  const source = readFileSync(path, 'utf8');
  assert.match(source, /churnflow patch/, `${path} is kafkajs' original: run npm ci (postinstall) or npx patch-package`);
  assert.doesNotMatch(source, /\{ \[partition\]: \[\.\.\.current, message\] \}/, 'the quadratic copy is gone');
});

test('the patched grouping equals the original: same partitions, same messages in the same order', () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed % n;
  };
  for (let round = 0; round < 50; round++) {
    const partitions = 1 + rand(12);
    const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, p) => ({ partitionId: p, leader: 1 + (p % 3), partitionErrorCode: 0, replicas: [1], isr: [1] }));
    const messages: Message[] = Array.from({ length: rand(3000) }, (_, i) => {
      const m: Message = { key: rand(10) === 0 ? null : `customer-${rand(500)}`, value: `v${i}` };
      if (rand(8) === 0) m.partition = rand(partitions);
      return m;
    });
    // The default partitioner keeps a round-robin counter for keyless messages: one instance per call.
    const a = installed({ topic: 't', partitionMetadata, messages, partitioner: Partitioners.DefaultPartitioner() });
    const b = original({ topic: 't', partitionMetadata, messages, partitioner: Partitioners.DefaultPartitioner() });
    assert.deepEqual(Object.keys(a), Object.keys(b), `round ${round}: partitions`);
    for (const p of Object.keys(b)) {
      assert.equal(a[p]!.length, b[p]!.length, `round ${round}, partition ${p}: count`);
      a[p]!.forEach((m, i) => assert.equal(m, b[p]![i], `round ${round}, partition ${p}, position ${i}: the same message object`));
    }
    assert.equal(Object.values(a).reduce((n, ms) => n + ms.length, 0), messages.length);
  }
  assert.deepEqual(installed({ topic: 't', partitionMetadata: [], messages: [{ key: 'k', value: 'v' }], partitioner: () => 0 }), {});
});
