// The values of slots in the binary state format (customer-codec.ts): numbers in their shortest exact
// form (zigzag integers, hundredths, float32, float64), the kinds a slot value can be stored as (a
// count, a time after or before a base, near the previous time, a 'last' [time, value], a bit set)
// with their byte costs, the integers packable kinds reduce a value to, and 'last' values that
// repeat the column's previous one. Used by the bucket columns and the archive alike.
import type { Scalar } from '../../events/activity-event.js';
import { BITSET_WORDS, popcount, type SlotValue } from '../slots.js';
import { ByteReader, ByteWriter, formatError } from './byte-io.js';

// Number kinds (low 2 bits of the header varint; an integer's zigzag value rides in the rest).
export const NUM_INT = 0;
export const NUM_CENTS = 1;
export const NUM_F64 = 2;
export const NUM_F32 = 3;
/** Integers and hundredths up to this magnitude ride in the header varint (zigzag × 4 stays below 2^53). */
export const SMALL = 2 ** 49;

// Slot value kinds. An archive value's header varint is (dictionary index × 8 + kind); a bucket
// column states one kind for all its values when they share it.
/** A non-negative integer below 2^49, as a plain varint (counts). */
export const SLOT_UINT = 0;
/** An integer at or after the base (the bucket's day start; the archive's: maxEventTime), as the varint offset: a time of the day takes 4 bytes, not 7. */
export const SLOT_AFTER = 1;
/** An integer before the base, as the varint distance to it. */
export const SLOT_BEFORE = 2;
/** Any other number, in the tagged form of writeNum (negative, money, float32, float64). */
export const SLOT_NUMBER = 3;
/** A 'last' [time, value], the time relative to the previous 'last' time of the bucket (the events that set several 'last' slots at once cost 1 byte each after the first). */
export const SLOT_LAST = 4;
/** A 'last' whose time does not survive that subtraction exactly (not an integer ms). */
export const SLOT_LAST_ABS = 5;
export const SLOT_BITS = 6;
/** An integer near the previous time of the bucket (the last value of kind AFTER, BEFORE, NEAR or LAST written before it), as the zigzag distance: two "latest time" slots of one day are seconds apart. */
export const SLOT_NEAR = 7;

// Scalar kinds of a 'last' value.
export const SC_NULL = 0;
export const SC_FALSE = 1;
export const SC_TRUE = 2;
export const SC_NUMBER = 3;
export const SC_STRING = 4;
/** Version 2: the same value as the column's previous 'last' value (in day order; an archive row: its column's first). */
export const SC_SAME = 5;
/** Version 2: an integer near the 'last' value's own time (a renewal or signup time), as the zigzag varint of the distance. */
export const SC_NEAR_TIME = 6;
export const MAX_U53 = 2 ** 53;

export function isCents(v: number): boolean {
  const c = Math.round(v * 100);
  return Math.abs(c) < SMALL && c / 100 === v;
}

/** The shortest exact form of a double (see the file comment). -0, NaN and infinities take 8 bytes. */
export function writeNum(w: ByteWriter, v: number): void {
  if (Number.isInteger(v) && Math.abs(v) < SMALL && !Object.is(v, -0)) {
    w.uvarint(zigzag(v) * 4 + NUM_INT);
  } else if (Number.isFinite(v) && !Object.is(v, -0) && isCents(v)) {
    w.uvarint(zigzag(Math.round(v * 100)) * 4 + NUM_CENTS);
  } else if (Math.fround(v) === v && !Object.is(v, -0)) {
    w.u8(NUM_F32);
    w.f32(v);
  } else {
    w.u8(NUM_F64);
    w.f64(v);
  }
}

export function readNum(r: ByteReader): number {
  const h = r.uvarint();
  const kind = h % 4;
  const rest = (h - kind) / 4;
  switch (kind) {
    case NUM_INT:
      return unzigzag(rest);
    case NUM_CENTS:
      return unzigzag(rest) / 100;
    case NUM_F32:
      return r.f32();
    default:
      return r.f64();
  }
}

export function zigzag(v: number): number {
  return v < 0 ? -2 * v - 1 : 2 * v;
}

export function unzigzag(z: number): number {
  return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
}

// ---------------------------------------------------------------- slots

/** What a value is stored relative to: `base` for AFTER and BEFORE, `ref` (the previous time written) for NEAR and LAST. */
export interface Refs {
  readonly base: number;
  ref: number;
}

export const isSafeInt = (x: number) => Number.isInteger(x) && Math.abs(x) < MAX_U53 && !Object.is(x, -0);

/** Bytes of a varint. */
export function vlen(x: number): number {
  // Thresholds first (a state write asks for thousands, times of 2^40 among them): the loop's answer
  // for 0 ≤ x < 2^56.
  if (x < 128) return 1;
  if (x < 16384) return 2;
  if (x < 2097152) return 3;
  if (x < 268435456) return 4;
  if (x < 34359738368) return 5;
  if (x < 4398046511104) return 6;
  if (x < 562949953421312) return 7;
  if (x < 72057594037927936) return 8;
  let n = 1;
  while (x >= 128) {
    x = Math.floor(x / 128);
    n++;
  }
  return n;
}

/** Bytes writeNum takes for v. */
export function numCost(v: number): number {
  if (Number.isInteger(v) && Math.abs(v) < SMALL && !Object.is(v, -0)) return vlen(zigzag(v) * 4);
  if (Number.isFinite(v) && !Object.is(v, -0) && isCents(v)) return vlen(zigzag(Math.round(v * 100)) * 4);
  return Math.fround(v) === v && !Object.is(v, -0) ? 5 : 9;
}

export const KINDS = 8; // SLOT_UINT .. SLOT_NEAR

/**
 * Fills costs[kind] with the bytes of v's value in each kind that stores it exactly, Infinity where a
 * kind cannot ('last' and bit sets: 0 for their one kind). Every number can take SLOT_NUMBER. No
 * allocation: this runs for every value of every write.
 */
export function fillCosts(v: SlotValue, refs: Refs, costs: Float64Array): void {
  costs.fill(Infinity);
  if (typeof v === 'number') {
    costs[SLOT_NUMBER] = numCost(v);
    if (!isSafeInt(v)) return;
    if (v >= 0 && v < SMALL) costs[SLOT_UINT] = vlen(v);
    const { base, ref } = refs;
    if (isSafeInt(base)) {
      if (v >= base && v - base < SMALL) costs[SLOT_AFTER] = vlen(v - base);
      else if (v < base && base - v < SMALL) costs[SLOT_BEFORE] = vlen(base - v);
    }
    if (isSafeInt(ref) && Math.abs(v - ref) < SMALL) costs[SLOT_NEAR] = vlen(zigzag(v - ref));
  } else if (v.length === 2) {
    // [time, value] of a 'last' slot; bit sets always have BITSET_WORDS (8) words, never 2.
    const t = v[0] as number;
    costs[Object.is(t - refs.ref + refs.ref, t) ? SLOT_LAST : SLOT_LAST_ABS] = 0; // Object.is: -0 must come back as -0
  } else {
    costs[SLOT_BITS] = 0;
  }
}

/** The cheapest kind in costs. */
export function cheapest(costs: Float64Array): number {
  let best = 0;
  for (let k = 1; k < KINDS; k++) if (costs[k]! < costs[best]!) best = k;
  return best;
}

export const scratch = new Float64Array(KINDS);

/** The value of a packable kind's integer; moves refs.ref as readValue does. */
export function fromRaw(kind: number, raw: number, refs: Refs): number {
  switch (kind) {
    case SLOT_UINT:
      return raw;
    case SLOT_AFTER:
      return (refs.ref = refs.base + raw);
    case SLOT_BEFORE:
      return (refs.ref = refs.base - raw);
    default:
      return (refs.ref = refs.ref + unzigzag(raw));
  }
}

export function bitWidth(max: number): number {
  // An integer (what the packable kinds give) by counting leading zeros: the loop below took up to
  // 49 halvings for each packable kind of each column of every write.
  if (Number.isInteger(max) && max >= 0 && max < MAX_U53) return max < 4294967296 ? 32 - Math.clz32(max) : 64 - Math.clz32(Math.floor(max / 4294967296));
  let width = 0;
  while (max >= 1) {
    max = Math.floor(max / 2);
    width++;
  }
  return width;
}

/** The cheapest kind for one value. */
export function bestKind(v: SlotValue, refs: Refs): number {
  fillCosts(v, refs, scratch);
  return cheapest(scratch);
}

/**
 * A bucket column's previous 'last' value (version 2): a value equal to it is written as SC_SAME.
 * Given (even with has false) exactly where version 2 is written: it also allows SC_NEAR_TIME.
 */
export interface LastSeen {
  has: boolean;
  value: Scalar;
}

export function writeValue(w: ByteWriter, kind: number, v: SlotValue, refs: Refs, what: string, seen?: LastSeen): void {
  switch (kind) {
    case SLOT_UINT:
      w.uvarint(v as number);
      return;
    case SLOT_AFTER:
      w.uvarint((v as number) - refs.base);
      refs.ref = v as number;
      return;
    case SLOT_BEFORE:
      w.uvarint(refs.base - (v as number));
      refs.ref = v as number;
      return;
    case SLOT_NEAR:
      w.svarint((v as number) - refs.ref);
      refs.ref = v as number;
      return;
    case SLOT_NUMBER:
      writeNum(w, v as number);
      return;
    case SLOT_LAST:
    case SLOT_LAST_ABS: {
      // Indexed, not destructured: array destructuring goes through the iterator protocol.
      const t = (v as readonly [number, Scalar])[0];
      const value = (v as readonly [number, Scalar])[1];
      writeNum(w, kind === SLOT_LAST ? t - refs.ref : t);
      // Object.is: 0 and -0 are different values, and both must come back as written.
      if (seen?.has && Object.is(seen.value, value)) w.u8(SC_SAME);
      else if (seen && typeof value === 'number' && nearTime(value, t)) {
        w.u8(SC_NEAR_TIME);
        w.svarint(value - t);
      } else writeScalar(w, value);
      if (seen) {
        seen.has = true;
        seen.value = value;
      }
      refs.ref = t;
      return;
    }
    default:
      writeBits(w, v as readonly number[], what);
  }
}

export function readValue(r: ByteReader, kind: number, refs: Refs, what: string, seen?: LastSeen): SlotValue {
  switch (kind) {
    case SLOT_UINT:
      return r.uvarint();
    case SLOT_AFTER:
      return (refs.ref = refs.base + r.uvarint());
    case SLOT_BEFORE:
      return (refs.ref = refs.base - r.uvarint());
    case SLOT_NEAR:
      return (refs.ref = refs.ref + r.svarint());
    case SLOT_NUMBER:
      return readNum(r);
    case SLOT_LAST:
    case SLOT_LAST_ABS: {
      const d = readNum(r);
      const t = kind === SLOT_LAST ? d + refs.ref : d;
      refs.ref = t;
      const value = seen && r.peek() === SC_NEAR_TIME ? (r.u8(), t + r.svarint()) : readScalar(r, what, seen);
      if (seen) {
        seen.has = true;
        seen.value = value;
      }
      return [t, value];
    }
    case SLOT_BITS:
      return readBits(r, what);
    default:
      throw formatError(what, `unknown slot value kind ${kind}`);
  }
}

/** Whether a 'last' value is an integer whose distance to the value's time is a shorter varint than the number itself. */
export function nearTime(value: number, t: number): boolean {
  return isSafeInt(value) && isSafeInt(t) && Math.abs(value - t) < SMALL && vlen(zigzag(value - t)) + 1 < 1 + numCost(value);
}


export function isBitsWord(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < 4294967296;
}

export function writeScalar(w: ByteWriter, v: Scalar): void {
  if (v === null) w.u8(SC_NULL);
  else if (v === false) w.u8(SC_FALSE);
  else if (v === true) w.u8(SC_TRUE);
  else if (typeof v === 'number') {
    w.u8(SC_NUMBER);
    writeNum(w, v);
  } else {
    w.u8(SC_STRING);
    w.str(v);
  }
}

export function readScalar(r: ByteReader, what: string, seen?: LastSeen): Scalar {
  const k = r.u8();
  switch (k) {
    case SC_SAME:
      if (!seen?.has) throw formatError(what, 'a repeated value with no value before it');
      return seen.value;
    case SC_NULL:
      return null;
    case SC_FALSE:
      return false;
    case SC_TRUE:
      return true;
    case SC_NUMBER:
      return readNum(r);
    case SC_STRING:
      return r.str();
    default:
      throw formatError(what, `unknown scalar kind ${k}`);
  }
}

/**
 * A standard set (BITSET_WORDS words) with few bits: varint count × 2 + 1, then each set bit's index
 * as one byte (a day's distinct values: a handful of bits, 1 + bits bytes). Anything else: varint
 * words × 2, then each word as 4 bytes.
 */
export function writeBits(w: ByteWriter, words: readonly number[], what: string): void {
  if (words.length === BITSET_WORDS) {
    // The standard set (every distinct slot's): its eight words checked and counted in one unrolled
    // pass (x >>> 0 === x: an integer in [0, 2^32), what isBitsWord asks).
    const x0 = words[0]!, x1 = words[1]!, x2 = words[2]!, x3 = words[3]!, x4 = words[4]!, x5 = words[5]!, x6 = words[6]!, x7 = words[7]!;
    if (x0 >>> 0 === x0 && x1 >>> 0 === x1 && x2 >>> 0 === x2 && x3 >>> 0 === x3 && x4 >>> 0 === x4 && x5 >>> 0 === x5 && x6 >>> 0 === x6 && x7 >>> 0 === x7) {
      const bits = popcount(x0) + popcount(x1) + popcount(x2) + popcount(x3) + popcount(x4) + popcount(x5) + popcount(x6) + popcount(x7);
      if (1 + bits < BITSET_WORDS * 4) {
        w.uvarint(bits * 2 + 1);
        w.bitIndices(words, bits);
      } else {
        w.uvarint(BITSET_WORDS * 2);
        w.u32(x0), w.u32(x1), w.u32(x2), w.u32(x3), w.u32(x4), w.u32(x5), w.u32(x6), w.u32(x7);
      }
      return;
    }
  }
  let bits = 0;
  for (let i = 0; i < words.length; i++) {
    const x = words[i]!;
    if (!isBitsWord(x)) throw formatError(what, `bit set word ${x} is not a uint32`);
    bits += popcount(x);
  }
  if (words.length === BITSET_WORDS && 1 + bits < BITSET_WORDS * 4) {
    w.uvarint(bits * 2 + 1);
    w.bitIndices(words, bits);
  } else {
    w.uvarint(words.length * 2);
    for (const x of words) w.u32(x);
  }
}

export function readBits(r: ByteReader, what: string): number[] {
  const h = r.uvarint();
  const n = Math.floor(h / 2);
  if (h % 2 === 0) {
    if (n > 1 << 16) throw formatError(what, `bit set of ${n} words`);
    const words = new Array<number>(n);
    for (let i = 0; i < n; i++) words[i] = r.u32();
    return words;
  }
  if (n >= BITSET_WORDS * 4) throw formatError(what, `sparse bit set of ${n} bits`);
  const words = new Array<number>(BITSET_WORDS).fill(0);
  for (let c = 0; c < n; c++) {
    const bit = r.u8();
    words[bit >>> 5] = (words[bit >>> 5]! | (1 << (bit & 31))) >>> 0;
  }
  return words;
}
