// patches/kafkajs+2.2.4.patch, applied by `npm ci` (prepare: patch-package) and in the image's
// build stage, changes three places of kafkajs' producer path, none of them in what it puts on the wire:
// - groupMessagesPerPartition copied a partition's array at every message (O(n²): ≈18 ms per send of
//   8,192 messages on 3 partitions); linear now.
// - the default partitioner's murmur2 emulated 32-bit arithmetic with 64-bit Long objects; Math.imul now.
// - the Encoder built each varint in an array and a Buffer.from, and gave every encoder (one per
//   produced record) a zero-filled buffer of its own; it writes varints in place, from allocUnsafe.
// These fail when the installed kafkajs is not the patched one, or when a patched function's output
// differs from the original's by one byte, partition or position.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Partitioners, type PartitionerArgs, type PartitionMetadata } from 'kafkajs';

const require = createRequire(import.meta.url);
const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
const murmur2Path = require.resolve('kafkajs/src/producer/partitioners/default/murmur2.js');
const encoderPath = require.resolve('kafkajs/src/protocol/encoder.js');
const recordPath = require.resolve('kafkajs/src/protocol/recordBatch/record/v0/index.js');

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

// mulberry32: a seeded 32-bit generator (integer arithmetic throughout; an LCG in doubles loses its low bits).
function generator(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * n >>> 0;
  };
}

test('the installed kafkajs carries the patch', () => {
  const hint = `is kafkajs' original: run npm ci (prepare) or npx patch-package`;
  const grouping = readFileSync(path, 'utf8');
  assert.match(grouping, /churnflow patch/, `${path} ${hint}`);
  assert.doesNotMatch(grouping, /\{ \[partition\]: \[\.\.\.current, message\] \}/, 'the quadratic copy is gone');
  const murmur2 = readFileSync(murmur2Path, 'utf8');
  assert.match(murmur2, /churnflow patch/, `${murmur2Path} ${hint}`);
  assert.doesNotMatch(murmur2, /require\('.*long'\)/, 'murmur2 without Long');
  const encoder = readFileSync(encoderPath, 'utf8');
  assert.match(encoder, /churnflow patch/, `${encoderPath} ${hint}`);
  assert.doesNotMatch(encoder, /Buffer\.from\(byteArray\)|Buffer\.alloc\(/, 'no varint array, no zero-filled buffer per encoder');
});

test('the patched grouping equals the original: same partitions, same messages in the same order', () => {
  const rand = generator(7);
  let keyless = 0;
  for (let round = 0; round < 50; round++) {
    const partitions = 1 + rand(12);
    const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitions }, (_, p) => ({ partitionId: p, leader: 1 + (p % 3), partitionErrorCode: 0, replicas: [1], isr: [1] }));
    const messages: Message[] = Array.from({ length: rand(3000) }, (_, i) => {
      const m: Message = { key: rand(10) === 0 ? null : `customer-${rand(500)}`, value: `v${i}` };
      if (rand(8) === 0) m.partition = rand(partitions);
      return m;
    });
    keyless += messages.filter((m) => m.key === null && m.partition === undefined).length;
    // The default partitioner sends keyless messages round-robin from a random start: each message's
    // partition is decided once and given to both groupings, which then must agree on everything else.
    const partitioner = Partitioners.DefaultPartitioner();
    const decided = new Map<Message, number>();
    const once = (args: PartitionerArgs) => {
      const m = args.message as unknown as Message;
      if (!decided.has(m)) decided.set(m, partitioner(args));
      return decided.get(m)!;
    };
    const a = installed({ topic: 't', partitionMetadata, messages, partitioner: once });
    const b = original({ topic: 't', partitionMetadata, messages, partitioner: once });
    assert.deepEqual(Object.keys(a), Object.keys(b), `round ${round}: partitions`);
    for (const p of Object.keys(b)) {
      assert.equal(a[p]!.length, b[p]!.length, `round ${round}, partition ${p}: count`);
      a[p]!.forEach((m, i) => assert.equal(m, b[p]![i], `round ${round}, partition ${p}, position ${i}: the same message object`));
    }
    assert.equal(Object.values(a).reduce((n, ms) => n + ms.length, 0), messages.length);
  }
  assert.ok(keyless > 1000, `keyless messages were generated (${keyless})`);
  assert.deepEqual(installed({ topic: 't', partitionMetadata: [], messages: [{ key: 'k', value: 'v' }], partitioner: () => 0 }), {});
});

// Java's org.apache.kafka.common.utils.Utils.murmur2, kafkajs' original as it computed it: 64-bit
// arithmetic (BigInt here, for Long) of which the low 32 bits are returned. The patch must equal it
// for every key, or a keyed record would land on another partition than a Java producer puts it.
function murmur2Reference(data: Buffer): number {
  const MASK = (1n << 64n) - 1n;
  const M = 0x5bd1e995n;
  const int = (x: bigint) => Number(BigInt.asIntN(32, x));
  const u = (x: bigint) => BigInt(int(x) >>> 0);
  const length = data.length;
  let h = 0x9747b28cn ^ BigInt(length);
  for (let i = 0; i + 4 <= length; i += 4) {
    let k = BigInt.asIntN(64, BigInt(data[i]! + (data[i + 1]! << 8) + (data[i + 2]! << 16) + (data[i + 3]! << 24)));
    k = (k * M) & MASK;
    k ^= u(k) >> 24n;
    k = (k * M) & MASK;
    h = ((h * M) & MASK) ^ k;
  }
  const tail = length & ~3;
  const rest = length % 4;
  if (rest >= 3) h ^= BigInt(data[tail + 2]! << 16);
  if (rest >= 2) h ^= BigInt(data[tail + 1]! << 8);
  if (rest >= 1) {
    h ^= BigInt(data[tail]!);
    h = (h * M) & MASK;
  }
  h ^= u(h) >> 13n;
  h = (h * M) & MASK;
  h ^= u(h) >> 15n;
  return int(h);
}

test('murmur2 equals Java Kafka on its own test vectors, and the 64-bit original on random keys', () => {
  const murmur2 = require(murmur2Path) as (key: Buffer | string) => number;
  // org.apache.kafka.common.utils.UtilsTest#testMurmur2
  const java: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ];
  for (const [key, hash] of java) {
    assert.equal(murmur2(key), hash, key);
    assert.equal(murmur2Reference(Buffer.from(key)), hash, `the reference itself: ${key}`);
  }
  const rand = generator(11);
  for (let i = 0; i < 20_000; i++) {
    const data = Buffer.from(Array.from({ length: i % 70 }, () => rand(256)));
    assert.equal(murmur2(data), murmur2Reference(data), data.toString('hex'));
  }
  for (let i = 0; i < 2_000; i++) assert.equal(murmur2(`customer-${i}`), murmur2Reference(Buffer.from(`customer-${i}`)));
});

// Kafka's varint (zigzag, then base-128 little-endian groups) as the protocol defines it.
function varintReference(value: bigint, bits: 32 | 64): number[] {
  let z = BigInt.asUintN(bits, (value << 1n) ^ (value >> BigInt(bits - 1)));
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return out;
}

interface EncoderLike {
  writeVarInt(v: number): EncoderLike;
  writeUVarInt(v: number): EncoderLike;
  writeVarLong(v: number): EncoderLike;
  writeInt32(v: number): EncoderLike;
  writeVarIntBytes(v: Buffer | string | null): EncoderLike;
  readonly buffer: Buffer;
}

test('the Encoder writes every varint as the protocol defines it, across buffer growth', () => {
  const Encoder = require(encoderPath) as new (initialSize?: number) => EncoderLike;
  const ints = [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 2 ** 20, -(2 ** 20), 2 ** 31 - 1, -(2 ** 31)];
  const longs = [...ints, 2 ** 32, -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1), 1_733_500_000_000, -1_733_500_000_000];
  // A small initial size: the varints cross the growth of the buffer again and again.
  const e = new Encoder(1);
  const expected: number[] = [];
  for (let r = 0; r < 40; r++) {
    for (const v of ints) {
      e.writeVarInt(v);
      expected.push(...varintReference(BigInt(v), 32));
      e.writeUVarInt(v >>> 0);
      let u = v >>> 0;
      while (u >= 0x80) {
        expected.push((u & 0x7f) | 0x80);
        u >>>= 7;
      }
      expected.push(u);
    }
    for (const v of longs) {
      e.writeVarLong(v);
      expected.push(...varintReference(BigInt(v), 64));
    }
  }
  assert.deepEqual([...e.buffer], expected);
});

test('an encoded record does not depend on what its uninitialised memory held (allocUnsafe)', () => {
  const Record = require(recordPath) as (r: { offsetDelta: number; timestampDelta: number; key: Buffer | string | null; value: Buffer | string | null; headers?: Record<string, string> }) => EncoderLike;
  const allocUnsafe = Buffer.allocUnsafe;
  // Every allocUnsafe during the encoding hands out memory full of `fill`: a byte the encoder left
  // unwritten below its offset would show as a difference between the fills.
  const encodeAll = (fill: number) => {
    let calls = 0;
    Buffer.allocUnsafe = (size: number) => {
      calls++;
      return Buffer.alloc(size, fill);
    };
    try {
      const out: Buffer[] = [];
      for (let i = 0; i < 300; i++) {
        const value = i % 7 === 0 ? null : i % 2 === 0 ? Buffer.alloc(i * 7, i & 0xff) : 'é'.repeat(i * 3);
        const record = Record({ offsetDelta: i, timestampDelta: i * 1_000_003, key: i % 11 === 0 ? null : `customer-${i}`, value, headers: i % 3 === 0 ? { 'cf-reason': `r${i}`, 'cf-x': 'y' } : {} });
        out.push(Buffer.from(record.buffer));
      }
      return { out, calls };
    } finally {
      Buffer.allocUnsafe = allocUnsafe;
    }
  };
  const zeros = encodeAll(0x00);
  const ones = encodeAll(0xff);
  assert.ok(zeros.calls >= 300, `the encoder allocates with allocUnsafe (${zeros.calls} calls)`);
  zeros.out.forEach((b, i) => assert.ok(b.equals(ones.out[i]!), `record ${i} differs with other bytes in its uninitialised memory`));
  // And the bytes are the record as the protocol lays it out: length, attributes, deltas, key, value, headers.
  const r = zeros.out[1]!;
  const body = Buffer.concat([Buffer.from([0]), Buffer.from(varintReference(1_000_003n, 64)), Buffer.from(varintReference(1n, 32)), Buffer.from(varintReference(10n, 32)), Buffer.from('customer-1'), Buffer.from(varintReference(6n, 32)), Buffer.from('ééé', 'utf8'), Buffer.from(varintReference(0n, 32))]);
  assert.deepEqual([...r], [...varintReference(BigInt(body.length), 32), ...body]);
});
