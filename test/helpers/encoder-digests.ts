// Digests of the state encoder's bytes over many more states than the golden fixture holds
// (test/fixtures/state/encoder-digests.json, written by write-encoder-digests.ts with main's encoder
// before session 9's changes; encoder-golden.json stays the byte-level reference): seeded random
// states, the same states after seeded random mutation sequences (a bucket changed in place or
// replaced, days added and dropped, the archive and the clock moved, each step encoded), and simulated
// customers encoded after every batch of the engine's transition, as the Redis store writes them. Each
// group's digest covers every encoding of every state in it, so one changed byte anywhere changes it.
import { createHash, type Hash } from 'node:crypto';
import { DAY_MS } from '../../src/events/activity-event.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { resolveSimulatorOptions } from '../../src/simulator/index.js';
import { encodeCustomer } from '../../src/state/codec/customer-codec.js';
import type { CustomerState } from '../../src/state/customer-state.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import type { SlotMerge, SlotValues } from '../../src/state/slots.js';
import { losslessStringify, VARIANTS, variantOptions } from './codec-golden.js';
import { layoutOf, randomSlots, randomState, rng } from './random-states.js';
import { simulatedStreamDeltas } from './simulated-deltas.js';

export const DIGEST_FILE = 'test/fixtures/state/encoder-digests.json';

export interface DigestGroup {
  readonly name: string;
  /** sha256 of the inputs (tells a changed generator from a changed encoder). */
  readonly input: string;
  /** sha256 of every encoding of every state of the group, length-prefixed, in order. */
  readonly bytes: string;
  readonly states: number;
}

function add(h: Hash, bytes: Buffer): void {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(bytes.length);
  h.update(len).update(bytes);
}

function encodeAll(h: Hash, state: CustomerState, layout: ReadonlyMap<string, SlotMerge> | undefined): void {
  for (const v of VARIANTS) add(h, encodeCustomer(state, variantOptions(v, layout)));
}

/** Random states of seeds first … first + count - 1, in groups of `per`. */
export function randomGroups(first: number, count: number, per: number): DigestGroup[] {
  const groups: DigestGroup[] = [];
  for (let g = first; g < first + count; g += per) {
    const input = createHash('sha256');
    const bytes = createHash('sha256');
    for (let seed = g; seed < Math.min(g + per, first + count); seed++) {
      const state = randomState(rng(seed), `cust-${seed}`);
      input.update(losslessStringify(state));
      encodeAll(bytes, state, layoutOf(state, rng(seed)));
    }
    groups.push({ name: `random seeds ${g}–${Math.min(g + per, first + count) - 1}`, input: input.digest('hex'), bytes: bytes.digest('hex'), states: Math.min(per, first + count - g) });
  }
  return groups;
}

/**
 * One random state of `seed`, then `steps` seeded mutations, each followed by its encodings: a bucket
 * changed in place, replaced by a copy with one slot changed, a day added or dropped, an archive row
 * changed, the clock moved (times relative to it), a score or recent event added. Mutations use the
 * state's own slots mostly (the layout's form), sometimes a slot outside the layout (the dictionary
 * form).
 */
export function mutationGroup(seed: number, steps: number): DigestGroup {
  const r = rng(seed * 7919 + 13);
  const state = randomState(rng(seed), `mut-${seed}`);
  const layout = layoutOf(state, rng(seed));
  const slots = [...layout.keys()];
  const input = createHash('sha256');
  const bytes = createHash('sha256');
  const dayKeys = () => Object.keys(state.buckets);
  for (let step = 0; step < steps; step++) {
    const k = r();
    const keys = dayKeys();
    if (k < 0.3 && keys.length > 0) {
      // In place: a slot of an existing bucket set to a new value.
      const key = keys[Math.floor(r() * keys.length)]!;
      const b = state.buckets[key]!;
      const fresh = randomSlots(r, Number(key), slots);
      for (const slot in fresh) {
        b[slot] = fresh[slot]!;
        break;
      }
    } else if (k < 0.5 && keys.length > 0) {
      // Copy-on-write, as applyDelta does after a copy: a new bucket object with one slot more or changed.
      const key = keys[Math.floor(r() * keys.length)]!;
      const fresh = randomSlots(r, Number(key), slots);
      state.buckets[key] = { ...state.buckets[key]!, ...fresh };
    } else if (k < 0.65) {
      // A new day after (or among) the others.
      const days = keys.map(Number).filter(Number.isFinite);
      const last = days.length > 0 ? Math.max(...days) : Math.floor(state.maxEventTime / DAY_MS);
      const day = Number.isSafeInteger(last) ? last + Math.floor(r() * 3) - (r() < 0.2 ? 5 : 0) : 0;
      const values: SlotValues = randomSlots(r, day, r() < 0.1 ? [...slots, `extra-${step}`] : slots);
      state.buckets[String(day)] = values;
    } else if (k < 0.75 && keys.length > 0) {
      delete state.buckets[keys[Math.floor(r() * keys.length)]!];
    } else if (k < 0.85) {
      const fresh = randomSlots(r, undefined, slots);
      state.archive = { ...state.archive, ...fresh };
    } else if (k < 0.95) {
      state.maxEventTime = r() < 0.9 && Number.isSafeInteger(state.maxEventTime) ? state.maxEventTime + Math.floor(r() * DAY_MS) : Math.floor(r() * 2e12);
      state.recentEvents.push([Math.floor(r() * 2 ** 53), state.maxEventTime - Math.floor(r() * 3.6e6)]);
    } else {
      state.positions[`p${Math.floor(r() * 3)}`] = Math.floor(r() * 1e9);
      state.outbox[`p0@${step}`] = `{"step":${step}}`;
    }
    input.update(losslessStringify(state));
    encodeAll(bytes, state, layout);
  }
  return { name: `mutations of seed ${seed}`, input: input.digest('hex'), bytes: bytes.digest('hex'), states: steps };
}

/**
 * Simulated customers (the default spec) through the memory store in batches of `batch` events; after
 * each batch every customer it changed is encoded as the Redis store writes it (format 2, the layout,
 * no outbox). Digests per tenth of the stream.
 */
export async function simulatedGroups(customers: number, days: number, batch: number): Promise<DigestGroup[]> {
  const spec = compileSpec(DEFAULT_CHURN_SPEC);
  const layout = spec.layout.merges;
  const deltas = simulatedStreamDeltas(spec, resolveSimulatorOptions({ customers, days, seed: 17 }));
  const store = new MemoryStateStore({ layout: spec.layout });
  const groups: DigestGroup[] = [];
  const tenth = Math.ceil(deltas.length / batch / 10) * batch;
  for (let from = 0; from < deltas.length; from += tenth) {
    const input = createHash('sha256');
    const bytes = createHash('sha256');
    let states = 0;
    for (let i = from; i < Math.min(from + tenth, deltas.length); i += batch) {
      const slice = deltas.slice(i, i + batch);
      await store.apply(slice);
      const ids = [...new Set(slice.map((d) => d.customerId))];
      for (const state of await store.get(ids)) {
        if (state === null) continue;
        input.update(state.customerId);
        add(bytes, encodeCustomer(state, { outbox: false, layout }));
        states++;
      }
    }
    groups.push({ name: `simulated events ${from}–${Math.min(from + tenth, deltas.length) - 1}`, input: input.digest('hex'), bytes: bytes.digest('hex'), states });
  }
  return groups;
}

/** Every group the fixture holds, in its order. */
export async function allDigestGroups(): Promise<{ random: DigestGroup[]; mutations: DigestGroup[]; simulated: DigestGroup[] }> {
  return {
    random: randomGroups(1000, 2000, 100),
    mutations: Array.from({ length: 60 }, (_, i) => mutationGroup(5000 + i, 40)),
    simulated: await simulatedGroups(120, 120, 256),
  };
}
