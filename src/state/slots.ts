// Slots are the primitive, mergeable aggregates that state stores keep per customer and day bucket.
// Features are computed from slots, never from raw events, so every store only needs these five merges.
import type { Scalar } from '../events/activity-event.js';
import { listenerOf, setListenerOf } from './shared-buckets.js';

export type SlotMerge = 'add' | 'max' | 'min' | 'last' | 'bits';

/** A slot's value: a number (add/max/min), [time, value] (last) or a 256-bit set as 8 uint32 words (bits). */
export type SlotValue = number | readonly [number, Scalar] | readonly number[];
export type SlotValues = Record<string, SlotValue>;

export interface SlotOp {
  readonly slot: string;
  readonly merge: SlotMerge;
  /** add/max/min: a number; last: [eventTime, value]; bits: the bit index 0..255. */
  readonly value: number | readonly [number, Scalar];
}

export const BITSET_WORDS = 8;
export const BITSET_BITS = BITSET_WORDS * 32;

/** Merges one op into a slot map in place. The Redis Lua script implements exactly the same rules. */
export function mergeOp(target: SlotValues, op: SlotOp): void {
  const cur = target[op.slot];
  switch (op.merge) {
    case 'add':
      target[op.slot] = (typeof cur === 'number' ? cur : 0) + (op.value as number);
      return;
    case 'max':
      target[op.slot] = typeof cur === 'number' ? Math.max(cur, op.value as number) : (op.value as number);
      return;
    case 'min':
      target[op.slot] = typeof cur === 'number' ? Math.min(cur, op.value as number) : (op.value as number);
      return;
    case 'last': {
      const next = op.value as readonly [number, Scalar];
      // Later event time wins; ties keep the first applied, so redelivery order cannot flip a value.
      // The op's own tuple is kept: slot values are never changed in place, so sharing one is safe.
      if (!Array.isArray(cur) || (cur[0] as number) < next[0]) target[op.slot] = next;
      return;
    }
    case 'bits': {
      const bit = op.value as number;
      const w = bit >>> 5;
      // Already set (a value seen again the same day): the set stays as it is, no copy.
      if (Array.isArray(cur) && (((cur as number[])[w] ?? 0) & (1 << (bit & 31))) !== 0) return;
      const words = Array.isArray(cur) ? [...(cur as number[])] : new Array<number>(BITSET_WORDS).fill(0);
      words[w] = ((words[w] ?? 0) | (1 << (bit & 31))) >>> 0;
      target[op.slot] = words;
      return;
    }
  }
}

/** Merges a whole slot map (an expiring bucket) into another (the archive). */
export function mergeSlotValues(target: SlotValues, source: SlotValues, merges: ReadonlyMap<string, SlotMerge>): void {
  for (const [slot, value] of Object.entries(source)) {
    const merge = merges.get(slot);
    if (merge === undefined) continue; // a slot no longer in the spec: drop it
    if (merge === 'bits') {
      const cur = target[slot];
      const a = Array.isArray(cur) ? (cur as number[]) : new Array<number>(BITSET_WORDS).fill(0);
      const b = value as readonly number[];
      target[slot] = a.map((x, i) => (x | (b[i] ?? 0)) >>> 0);
    } else if (merge === 'last') {
      mergeOp(target, { slot, merge, value: value as readonly [number, Scalar] });
    } else {
      mergeOp(target, { slot, merge, value: value as number });
    }
  }
}

/** FNV-1a of the value's text, to pick a bit for distinct counting. */
export function bitIndexFor(value: Scalar): number {
  const text = String(value);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % BITSET_BITS;
}

/** Linear-counting estimate of distinct values in a 256-bit set: exact enough for tens of items, bounded memory. */
export function estimateDistinct(words: ArrayLike<number>): number {
  let zeros = 0;
  for (let i = 0; i < words.length; i++) zeros += 32 - popcount(words[i]!);
  if (zeros === BITSET_BITS) return 0;
  if (zeros === 0) return Math.round(BITSET_BITS * Math.log(BITSET_BITS));
  return Math.round(-BITSET_BITS * Math.log(zeros / BITSET_BITS));
}

/** Set bits of a uint32 word (bit sets' words; the state codec counts them too). */
export function popcount(x: number): number {
  let v = x >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/**
 * Derived, in-memory data kept in step with a state's day buckets (the incremental window totals of
 * src/features/window-totals.ts). Never persisted: a state without one (freshly decoded) gets it
 * rebuilt from its buckets on first use. The state transition tells it about every bucket change.
 */
export interface BucketListener {
  /** An op was merged into the bucket of `day`: the slot's value before (undefined if absent) and after. */
  merged(day: number, op: SlotOp, before: SlotValue | undefined, after: SlotValue): void;
  /** The bucket of `day` is about to fold into the archive; false when the listener cannot follow (it is then dropped). */
  expiring(day: number): boolean;
}

/**
 * At most one listener per state object (weakly held: it goes with the state). Kept with the state's
 * sharing bookkeeping (src/state/shared-buckets.ts): one map entry per state; copies move it.
 */
export function bucketListener(state: object): BucketListener | undefined {
  return listenerOf(state);
}

export function setBucketListener(state: object, listener: BucketListener | undefined): void {
  setListenerOf(state, listener);
}
