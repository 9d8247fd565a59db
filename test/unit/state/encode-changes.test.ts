// RedisStateStore's encodeChanges (the fields a write sets and deletes) against the straightforward
// version it replaced (a map of every new field, then a comparison per field; kept below as the
// reference): the same fields in the same order, the same values byte for byte, the same deletions,
// over random states and stored hashes that hold the same fields, changed ones, stale parts, stale
// outbox entries, JSON-layout fields and look-alike field names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeCustomer } from '../../../src/state/codec/customer-codec.js';
import type { CustomerState } from '../../../src/state/customer-state.js';
import { decodeStoredHash, encodeChanges, STATE_PART_BYTES, storedAfterWrite } from '../../../src/state/redis-store.js';
import type { SlotMerge } from '../../../src/state/slots.js';
import { layoutOf, randomState, rng } from '../../helpers/random-states.js';

function reference(state: CustomerState, prev: ReadonlyMap<string, Buffer>, layout: ReadonlyMap<string, SlotMerge>): { set: (string | Buffer)[]; del: string[] } {
  const next = new Map<string, Buffer>();
  const bytes = encodeCustomer(state, { outbox: false, layout });
  for (let at = 0, i = 0; at < bytes.length || i === 0; at += STATE_PART_BYTES, i++) next.set(i === 0 ? 'b' : `b${i}`, bytes.subarray(at, at + STATE_PART_BYTES));
  for (const key in state.outbox) next.set(`o:${key}`, Buffer.from(state.outbox[key]!));
  const set: (string | Buffer)[] = [];
  for (const [field, value] of next) {
    const before = prev.get(field);
    if (before === undefined || !before.equals(value)) set.push(field, value);
  }
  const del: string[] = [];
  for (const field of prev.keys()) if (field !== 'v' && !next.has(field)) del.push(field);
  return { set, del };
}

const norm = (c: { set: (string | Buffer)[]; del: string[] }) => ({ set: c.set.map((x) => (typeof x === 'string' ? x : `0x${x.toString('hex')}`)), del: c.del });

test('encodeChanges sets and deletes exactly the fields the map-based version did, in the same order', () => {
  let compared = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const r = rng(seed + 90_000);
    const state = randomState(rng(seed), `cust-${seed}`);
    const layout = layoutOf(state, rng(seed));
    // What a hash might hold: this state's own fields (unchanged), an older state's, or odd leftovers.
    const prev = new Map<string, Buffer>();
    const own = reference(state, new Map(), layout);
    for (let i = 0; i < own.set.length; i += 2) if (r() < 0.6) prev.set(own.set[i] as string, r() < 0.8 ? (own.set[i + 1] as Buffer) : Buffer.from('stale'));
    if (r() < 0.5) prev.set('v', Buffer.from('7'));
    for (const f of ['b1', 'b2', 'b01', 'b1.0', 'b 1', 'b0', 'bx', 'o:gone@1', 'o:', 'maxEventTime', 'positions', `b${Math.floor(r() * 4)}`]) if (r() < 0.3) prev.set(f, Buffer.from(f));
    // Large states: several parts.
    if (r() < 0.2) for (let i = 0; i < 40; i++) state.outbox[`big@${i}`] = 'x'.repeat(Math.floor(r() * 300));
    assert.deepStrictEqual(norm(encodeChanges(state, { fields: prev } as never, layout)), norm(reference(state, prev, layout)), `seed ${seed}`);
    assert.deepStrictEqual(norm(encodeChanges(state, undefined, layout)), norm(reference(state, new Map(), layout)), `seed ${seed}, nothing stored`);
    compared++;
  }
  assert.equal(compared, 200);
});

test('encodeChanges resends exactly the outbox entries that changed since the values it wrote or decoded (remembered texts), against the byte comparison', () => {
  let resent = 0;
  let skipped = 0;
  for (let seed = 1; seed <= 200; seed++) {
    const r = rng(seed + 70_000);
    const state = randomState(rng(seed), `cust-${seed}`);
    const layout = layoutOf(state, rng(seed));
    for (let i = 0; i < 1 + Math.floor(r() * 6); i++) state.outbox[`s@${i}`] = `{"risk":${i},"t":"${'é'.repeat(Math.floor(r() * 4))}"}`;
    // Stored as this process wrote them, or as a load decoded them.
    const prev = storedAfterWrite(undefined, encodeChanges(state, undefined, layout), 1).fields; // the hash as the store keeps it after the write
    const current = r() < 0.5 ? state : decodeStoredHash(state.customerId, prev, layout);
    // Then the outbox changes: a new text (same length or not), an entry dropped or added, or nothing.
    const keys = Object.keys(current.outbox);
    for (const key of keys) {
      const x = r();
      if (x < 0.15) current.outbox[key] = current.outbox[key]!.replace('"risk":', '"risq":'); // same length, other bytes
      else if (x < 0.3) current.outbox[key] = `${current.outbox[key]!} `;
      else if (x < 0.4) delete current.outbox[key];
      else if (x < 0.5) current.outbox[key] = `${current.outbox[key]!}`.slice(0); // an equal string, another object or the same
    }
    if (r() < 0.3) current.outbox[`s@new${seed}`] = '{"risk":"new"}';
    const got = norm(encodeChanges(current, { fields: prev } as never, layout));
    assert.deepStrictEqual(got, norm(reference(current, prev, layout)), `seed ${seed}`);
    for (const key in current.outbox) {
      if (got.set.includes(`o:${key}`)) resent++;
      else skipped++;
    }
  }
  // Both ways were taken many times (the test would prove nothing otherwise).
  assert.ok(resent > 100 && skipped > 100, `resent ${resent}, skipped ${skipped}`);
});

test('encodeChanges splits a state longer than a part into b, b1, … and deletes parts it no longer needs', () => {
  const state = randomState(rng(3), 'long');
  const layout = layoutOf(state, rng(3));
  // A state of several parts: many recent events (7 + a few bytes each).
  for (let i = 0; i < 600; i++) state.recentEvents.push([i * 7919, state.maxEventTime]);
  const bytes = encodeCustomer(state, { outbox: false, layout });
  assert.ok(bytes.length > 2 * STATE_PART_BYTES);
  const stored = new Map<string, Buffer>([['b5', Buffer.from('old')], ['b25', Buffer.from('old')], ['v', Buffer.from('3')]]);
  const { set, del } = encodeChanges(state, { fields: stored } as never, layout);
  const fields = set.filter((_, i) => i % 2 === 0);
  const parts = Math.ceil(bytes.length / STATE_PART_BYTES);
  assert.deepStrictEqual(fields.slice(0, parts), ['b', ...Array.from({ length: parts - 1 }, (_, i) => `b${i + 1}`)]);
  assert.ok(Buffer.concat(set.filter((_, i) => i % 2 === 1).slice(0, parts) as Buffer[]).equals(bytes));
  assert.deepStrictEqual(del, ['b5', 'b25'].filter((f) => Number(f.slice(1)) >= parts));
  assert.ok(parts > 5 && parts < 25, `${parts} parts`); // b5 kept, b25 deleted
});
