// The binary form of one customer's state: what the Redis store keeps (field `b` of the customer's
// hash) and what the memory store counts as a customer's size. Every value round-trips exactly: a
// number is stored in the shortest form that gives back the very same double (an integer as a zigzag
// varint, a value with at most two decimals — money — as fixed-point hundredths, a float32-exact value
// in 4 bytes, anything else as its 8 IEEE bytes), so features computed from a decoded state are the
// features of the state that was encoded. Layout of format version 1 (docs/architecture.md, "Redis
// state store"):
//
//   u8 version · varint flags · num maxEventTime · positions · slot dictionary · archive · buckets
//   · recent event ids · [lastScore] · [shadowScore] · [outbox]
//
// Day buckets are sparse: their day indices ascending, delta-coded. Slots are named once, in a
// per-customer dictionary; values refer to a slot by its index. A 'last' time inside a bucket is
// stored relative to the bucket's day. Distinct-count bit sets are stored as their set bit indices
// when that is shorter than the words. Recent event ids keep their full 53-bit hash (7 bytes: 32 bits
// would make a false duplicate, a dropped event, a billion times likelier) and their time relative to
// maxEventTime. Outbox entries are opaque strings, kept byte for byte.
import { DAY_MS, type Scalar } from '../../events/activity-event.js';
import type { CustomerState, LastScore } from '../customer-state.js';
import { BITSET_WORDS, type SlotValue, type SlotValues } from '../slots.js';
import { ByteReader, ByteWriter, formatError } from './byte-io.js';

/** The format version in the first byte. Readers refuse any other (see decodeCustomer). */
export const STATE_FORMAT_VERSION = 1;

const FLAG_LAST_SCORE = 1;
const FLAG_SHADOW_PRESENT = 2;
const FLAG_SHADOW_NULL = 4;
const FLAG_OUTBOX = 8;

// Number kinds (low 2 bits of the header varint; an integer's zigzag value rides in the rest).
const NUM_INT = 0;
const NUM_CENTS = 1;
const NUM_F64 = 2;
const NUM_F32 = 3;
/** Integers and hundredths up to this magnitude ride in the header varint (zigzag × 4 stays below 2^53). */
const SMALL = 2 ** 49;

// Slot value kinds. An archive value's header varint is (dictionary index × 8 + kind); a bucket
// column states one kind for all its values when they share it.
/** A non-negative integer below 2^49, as a plain varint (counts). */
const SLOT_UINT = 0;
/** An integer at or after the base (the bucket's day start; the archive's: maxEventTime), as the varint offset: a time of the day takes 4 bytes, not 7. */
const SLOT_AFTER = 1;
/** An integer before the base, as the varint distance to it. */
const SLOT_BEFORE = 2;
/** Any other number, in the tagged form of writeNum (negative, money, float32, float64). */
const SLOT_NUMBER = 3;
/** A 'last' [time, value], the time relative to the previous 'last' time of the bucket (the events that set several 'last' slots at once cost 1 byte each after the first). */
const SLOT_LAST = 4;
/** A 'last' whose time does not survive that subtraction exactly (not an integer ms). */
const SLOT_LAST_ABS = 5;
const SLOT_BITS = 6;
/** An integer near the previous time of the bucket (the last value of kind AFTER, BEFORE, NEAR or LAST written before it), as the zigzag distance: two "latest time" slots of one day are seconds apart. */
const SLOT_NEAR = 7;
/** A bucket column whose values do not share a kind: each value has its kind byte. */
const MIXED = 8;

// Presence of a slot in the buckets (a bucket column's header varint: kind × 3 + presence).
const IN_NONE = 0;
const IN_ALL = 1;
const IN_BITMAP = 2;

// Scalar kinds of a 'last' value.
const SC_NULL = 0;
const SC_FALSE = 1;
const SC_TRUE = 2;
const SC_NUMBER = 3;
const SC_STRING = 4;

const DAY_KEY = /^-?(?:0|[1-9]\d*)$/;
const MAX_U53 = 2 ** 53;

export interface EncodeOptions {
  /** Include the outbox (default true). The Redis store keeps outbox entries in fields of their own. */
  readonly outbox?: boolean;
}

/** The customer's state in format version 1. Throws CF_STATE_FORMAT for a state it cannot represent exactly. */
export function encodeCustomer(state: Readonly<CustomerState>, options: EncodeOptions = {}): Buffer {
  const w = new ByteWriter(512);
  const what = `customer ${state.customerId}`;
  const withOutbox = (options.outbox ?? true) && Object.keys(state.outbox).length > 0;
  w.u8(STATE_FORMAT_VERSION);
  let flags = 0;
  if (state.lastScore) flags |= FLAG_LAST_SCORE;
  if (state.shadowScore) flags |= FLAG_SHADOW_PRESENT;
  else if (state.shadowScore === null) flags |= FLAG_SHADOW_NULL;
  if (withOutbox) flags |= FLAG_OUTBOX;
  w.uvarint(flags);
  writeNum(w, state.maxEventTime);

  const streams = Object.keys(state.positions);
  w.uvarint(streams.length);
  for (const s of streams) {
    w.str(s);
    writeNum(w, state.positions[s]!);
  }

  const days = Object.keys(state.buckets);
  for (const d of days) if (!DAY_KEY.test(d)) throw formatError(what, `bucket key ${JSON.stringify(d)} is not a day index`);
  const dayNumbers = days.map(Number).sort((a, b) => a - b);
  // The dictionary: every slot the customer holds, written once, the most used first (an index below
  // 16 keeps a value's header to one byte).
  const uses = new Map<string, number>();
  const collect = (values: SlotValues) => {
    for (const slot in values) uses.set(slot, (uses.get(slot) ?? 0) + 1);
  };
  collect(state.archive);
  for (const d of dayNumbers) collect(state.buckets[String(d)]!);
  const dict = new Map([...uses].sort((a, b) => b[1] - a[1]).map(([slot], i) => [slot, i]));
  w.uvarint(dict.size);
  for (const slot of dict.keys()) w.str(slot);

  writeArchive(w, state.archive, dict, state.maxEventTime, what);
  w.uvarint(dayNumbers.length);
  dayNumbers.forEach((d, i) => {
    if (i === 0) w.svarint(d);
    else w.uvarint(d - dayNumbers[i - 1]!);
  });
  writeColumns(w, dayNumbers.map((d) => state.buckets[String(d)]!), dayNumbers, [...dict.keys()], what);

  // Times relative to maxEventTime (a few bytes), unless one of them would not come back exactly.
  const max = state.maxEventTime;
  const relative = state.recentEvents.every(([, t]) => Object.is(max - (max - t), t));
  w.uvarint(state.recentEvents.length * 2 + (relative ? 0 : 1));
  for (const [hash, time] of state.recentEvents) {
    if (!(Number.isInteger(hash) && hash >= 0 && hash < MAX_U53)) throw formatError(what, `recent event hash ${hash} is not a 53-bit unsigned integer`);
    w.u53(hash);
    writeNum(w, relative ? max - time : time);
  }

  if (state.lastScore) writeScore(w, state.lastScore);
  if (state.shadowScore) writeScore(w, state.shadowScore);
  if (withOutbox) {
    const keys = Object.keys(state.outbox);
    w.uvarint(keys.length);
    for (const k of keys) {
      w.str(k);
      w.str(state.outbox[k]!);
    }
  }
  return w.finish();
}

/**
 * Decodes what encodeCustomer wrote. A first byte other than STATE_FORMAT_VERSION (a newer engine's
 * format, or not a state at all) and a truncated or malformed body fail with CF_STATE_FORMAT, which
 * names the rebuild procedure: replaying the activity topic from Kafka.
 */
export function decodeCustomer(customerId: string, bytes: Buffer): CustomerState {
  const what = `customer ${customerId}`;
  const r = new ByteReader(bytes, what);
  const version = r.u8();
  if (version !== STATE_FORMAT_VERSION) throw formatError(what, `format version ${version}, this engine reads version ${STATE_FORMAT_VERSION}`);
  const flags = r.uvarint();
  const maxEventTime = readNum(r);
  const positions: Record<string, number> = {};
  for (let n = r.uvarint(); n > 0; n--) {
    const s = r.str();
    positions[s] = readNum(r);
  }
  const dict: string[] = [];
  for (let n = r.uvarint(); n > 0; n--) dict.push(r.str());
  const archive = readArchive(r, dict, maxEventTime, what);
  const days: number[] = [];
  for (let i = 0, n = r.uvarint(); i < n; i++) days.push(i === 0 ? r.svarint() : days[i - 1]! + r.uvarint());
  const columns = readColumns(r, days, dict, what);
  const buckets: Record<string, SlotValues> = {};
  days.forEach((d, i) => {
    buckets[String(d)] = columns[i]!;
  });
  const recentEvents: [number, number][] = [];
  const recentHeader = r.uvarint();
  const absolute = recentHeader % 2 === 1;
  for (let n = Math.floor(recentHeader / 2); n > 0; n--) {
    const hash = r.u53();
    const t = readNum(r);
    recentEvents.push([hash, absolute ? t : maxEventTime - t]);
  }
  const lastScore = flags & FLAG_LAST_SCORE ? readScore(r) : null;
  const shadowScore = flags & FLAG_SHADOW_PRESENT ? readScore(r) : flags & FLAG_SHADOW_NULL ? null : undefined;
  const outbox: Record<string, string> = {};
  if (flags & FLAG_OUTBOX) {
    for (let n = r.uvarint(); n > 0; n--) {
      const k = r.str();
      outbox[k] = r.str();
    }
  }
  if (!r.done) throw formatError(what, 'bytes left after the last section');
  return { customerId, buckets, archive, maxEventTime, positions, lastScore, ...(shadowScore !== undefined ? { shadowScore } : {}), outbox, recentEvents };
}

// ---------------------------------------------------------------- numbers

function isCents(v: number): boolean {
  const c = Math.round(v * 100);
  return Math.abs(c) < SMALL && c / 100 === v;
}

/** The shortest exact form of a double (see the file comment). -0, NaN and infinities take 8 bytes. */
function writeNum(w: ByteWriter, v: number): void {
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

function readNum(r: ByteReader): number {
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

function zigzag(v: number): number {
  return v < 0 ? -2 * v - 1 : 2 * v;
}

function unzigzag(z: number): number {
  return z % 2 === 1 ? -(z + 1) / 2 : z / 2;
}

// ---------------------------------------------------------------- slots

/** What a value is stored relative to: `base` for AFTER and BEFORE, `ref` (the previous time written) for NEAR and LAST. */
interface Refs {
  readonly base: number;
  ref: number;
}

const isSafeInt = (x: number) => Number.isInteger(x) && Math.abs(x) < MAX_U53 && !Object.is(x, -0);

/** Bytes of a varint. */
function vlen(x: number): number {
  let n = 1;
  while (x >= 128) {
    x = Math.floor(x / 128);
    n++;
  }
  return n;
}

/** Bytes writeNum takes for v. */
function numCost(v: number): number {
  if (Number.isInteger(v) && Math.abs(v) < SMALL && !Object.is(v, -0)) return vlen(zigzag(v) * 4);
  if (Number.isFinite(v) && !Object.is(v, -0) && isCents(v)) return vlen(zigzag(Math.round(v * 100)) * 4);
  return Math.fround(v) === v && !Object.is(v, -0) ? 5 : 9;
}

const KINDS = 8; // SLOT_UINT .. SLOT_NEAR

/**
 * Fills costs[kind] with the bytes of v's value in each kind that stores it exactly, Infinity where a
 * kind cannot ('last' and bit sets: 0 for their one kind). Every number can take SLOT_NUMBER. No
 * allocation: this runs for every value of every write.
 */
function fillCosts(v: SlotValue, refs: Refs, costs: Float64Array): void {
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
function cheapest(costs: Float64Array): number {
  let best = 0;
  for (let k = 1; k < KINDS; k++) if (costs[k]! < costs[best]!) best = k;
  return best;
}

const scratch = new Float64Array(KINDS);

/** The cheapest kind for one value. */
function bestKind(v: SlotValue, refs: Refs): number {
  fillCosts(v, refs, scratch);
  return cheapest(scratch);
}

function writeValue(w: ByteWriter, kind: number, v: SlotValue, refs: Refs, what: string): void {
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
      const [t, value] = v as readonly [number, Scalar];
      writeNum(w, kind === SLOT_LAST ? t - refs.ref : t);
      writeScalar(w, value);
      refs.ref = t;
      return;
    }
    default:
      writeBits(w, v as readonly number[], what);
  }
}

function readValue(r: ByteReader, kind: number, refs: Refs, what: string): SlotValue {
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
      return [t, readScalar(r, what)];
    }
    case SLOT_BITS:
      return readBits(r, what);
    default:
      throw formatError(what, `unknown slot value kind ${kind}`);
  }
}

/** The archive, row by row: count, then per slot (index × 8 + kind) and the value; times relative to maxEventTime. */
function writeArchive(w: ByteWriter, values: SlotValues, dict: ReadonlyMap<string, number>, maxEventTime: number, what: string): void {
  const slots = Object.keys(values);
  const refs: Refs = { base: maxEventTime, ref: maxEventTime };
  w.uvarint(slots.length);
  for (const slot of slots) {
    const v = values[slot]!;
    const kind = bestKind(v, refs);
    w.uvarint(dict.get(slot)! * 8 + kind);
    writeValue(w, kind, v, refs, what);
  }
}

function readArchive(r: ByteReader, dict: readonly string[], maxEventTime: number, what: string): SlotValues {
  const out: SlotValues = {};
  const refs: Refs = { base: maxEventTime, ref: maxEventTime };
  for (let n = r.uvarint(); n > 0; n--) {
    const h = r.uvarint();
    const kind = h % 8;
    const slot = dict[(h - kind) / 8];
    if (slot === undefined) throw formatError(what, `slot index ${(h - kind) / 8} is not in the dictionary of ${dict.length}`);
    out[slot] = readValue(r, kind, refs, what);
  }
  return out;
}

/**
 * The buckets, column by column (slot by slot, in dictionary order): which buckets hold the slot
 * (none, all, or a bitmap over the buckets), then its values in day order, with one kind for the
 * column when they share it. A slot's header is paid once per customer, not once per bucket.
 */
function writeColumns(w: ByteWriter, buckets: readonly SlotValues[], days: readonly number[], dict: readonly string[], what: string): void {
  const refs = days.map((d): Refs => ({ base: d * DAY_MS, ref: d * DAY_MS }));
  const n = buckets.length;
  const present = new Int32Array(n);
  const kinds = new Uint8Array(n);
  const totals = new Float64Array(KINDS);
  const bitmap = new Uint8Array(Math.ceil(n / 8));
  for (const slot of dict) {
    let count = 0;
    // One kind for the whole column if some kind fits every value and costs no more than a kind byte
    // per value would; else each value its cheapest kind, after a kind byte.
    totals.fill(0);
    let mixed = 0;
    for (let i = 0; i < n; i++) {
      const v = buckets[i]![slot];
      if (v === undefined) continue;
      fillCosts(v, refs[i]!, scratch);
      const best = cheapest(scratch);
      kinds[count] = best;
      present[count++] = i;
      mixed += 1 + scratch[best]!;
      for (let k = 0; k < KINDS; k++) totals[k]! += scratch[k]!;
    }
    let kind = MIXED;
    let cost = mixed;
    for (let k = 0; k < KINDS; k++) {
      if (totals[k]! <= cost) {
        kind = k;
        cost = totals[k]!;
      }
    }
    const presence = count === 0 ? IN_NONE : count === n ? IN_ALL : IN_BITMAP;
    w.uvarint(kind * 3 + presence);
    if (presence === IN_BITMAP) {
      bitmap.fill(0);
      for (let j = 0; j < count; j++) bitmap[present[j]! >>> 3]! |= 1 << (present[j]! & 7);
      for (const byte of bitmap) w.u8(byte);
    }
    for (let j = 0; j < count; j++) {
      const i = present[j]!;
      if (kind === MIXED) w.u8(kinds[j]!);
      writeValue(w, kind === MIXED ? kinds[j]! : kind, buckets[i]![slot]!, refs[i]!, what);
    }
  }
}

function readColumns(r: ByteReader, days: readonly number[], dict: readonly string[], what: string): SlotValues[] {
  const out = days.map((): SlotValues => ({}));
  const refs = days.map((d): Refs => ({ base: d * DAY_MS, ref: d * DAY_MS }));
  for (const slot of dict) {
    const h = r.uvarint();
    const presence = h % 3;
    const kind = (h - presence) / 3;
    let present: number[];
    if (presence === IN_NONE) present = [];
    else if (presence === IN_ALL) present = days.map((_, i) => i);
    else {
      present = [];
      for (let byte = 0; byte < Math.ceil(days.length / 8); byte++) {
        const bits = r.u8();
        for (let b = 0; b < 8; b++) if (bits & (1 << b)) present.push(byte * 8 + b);
      }
      if (present.some((i) => i >= days.length)) throw formatError(what, `slot ${slot} present in a bucket beyond the ${days.length} stored`);
    }
    for (const i of present) out[i]![slot] = readValue(r, kind === MIXED ? r.u8() : kind, refs[i]!, what);
  }
  return out;
}

function popcount(x: number): number {
  let v = x >>> 0;
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

function isBitsWord(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < 4294967296;
}

function writeScalar(w: ByteWriter, v: Scalar): void {
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

function readScalar(r: ByteReader, what: string): Scalar {
  const k = r.u8();
  switch (k) {
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
function writeBits(w: ByteWriter, words: readonly number[], what: string): void {
  let bits = 0;
  for (let i = 0; i < words.length; i++) {
    const x = words[i]!;
    if (!isBitsWord(x)) throw formatError(what, `bit set word ${x} is not a uint32`);
    bits += popcount(x);
  }
  if (words.length === BITSET_WORDS && 1 + bits < BITSET_WORDS * 4) {
    w.uvarint(bits * 2 + 1);
    for (let i = 0; i < BITSET_WORDS; i++) {
      // Lowest set bit first, then clear it: only the set bits are visited.
      for (let x = words[i]!; x !== 0; x = (x & (x - 1)) >>> 0) w.u8(i * 32 + 31 - Math.clz32(x & -x));
    }
  } else {
    w.uvarint(words.length * 2);
    for (const x of words) w.u32(x);
  }
}

function readBits(r: ByteReader, what: string): number[] {
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

// ---------------------------------------------------------------- scores

function writeScore(w: ByteWriter, s: LastScore): void {
  writeNum(w, s.score);
  w.str(s.band);
  w.str(s.modelName);
  w.str(s.modelVersion);
  writeNum(w, s.eventTime);
  w.str(s.riskEventId);
}

function readScore(r: ByteReader): LastScore {
  const score = readNum(r);
  const band = r.str();
  const modelName = r.str();
  const modelVersion = r.str();
  const eventTime = readNum(r);
  const riskEventId = r.str();
  return { score, band, modelName, modelVersion, eventTime, riskEventId };
}
