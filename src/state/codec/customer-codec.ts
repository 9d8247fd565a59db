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
import type { SlotValue, SlotValues } from '../slots.js';
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

// Slot value kinds (low 3 bits of the slot header varint, above them the slot's dictionary index).
/** A non-negative integer below 2^49, as a plain varint (counts). */
const SLOT_UINT = 0;
/** An integer at or after its bucket's day start, as the varint offset from it (times of the day: 4 bytes, not 7). */
const SLOT_DAY_TIME = 1;
/** Any other number, in the tagged form of writeNum (negative, money, float32, float64). */
const SLOT_NUMBER = 2;
/** A 'last' [time, value], the time relative to the bucket's day start. */
const SLOT_LAST = 3;
/** A 'last' whose time does not survive the subtraction of its day's start exactly (not an integer ms). */
const SLOT_LAST_ABS = 4;
const SLOT_BITS = 5;

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

  writeSlots(w, state.archive, dict, 0, what);
  w.uvarint(dayNumbers.length);
  let prev = 0;
  dayNumbers.forEach((d, i) => {
    if (i === 0) w.svarint(d);
    else w.uvarint(d - prev);
    prev = d;
    writeSlots(w, state.buckets[String(d)]!, dict, d * DAY_MS, what);
  });

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
  const archive = readSlots(r, dict, 0, what);
  const buckets: Record<string, SlotValues> = {};
  let day = 0;
  for (let i = 0, n = r.uvarint(); i < n; i++) {
    day = i === 0 ? r.svarint() : day + r.uvarint();
    buckets[String(day)] = readSlots(r, dict, day * DAY_MS, what);
  }
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

function writeSlots(w: ByteWriter, values: SlotValues, dict: ReadonlyMap<string, number>, timeBase: number, what: string): void {
  const slots = Object.keys(values);
  w.uvarint(slots.length);
  for (const slot of slots) {
    const head = dict.get(slot)! * 8;
    const v = values[slot]!;
    if (typeof v === 'number') {
      const isInt = Number.isInteger(v) && !Object.is(v, -0);
      if (isInt && timeBase > 0 && v >= timeBase && v - timeBase < SMALL) {
        w.uvarint(head + SLOT_DAY_TIME);
        w.uvarint(v - timeBase);
      } else if (isInt && v >= 0 && v < SMALL) {
        w.uvarint(head + SLOT_UINT);
        w.uvarint(v);
      } else {
        w.uvarint(head + SLOT_NUMBER);
        writeNum(w, v);
      }
    } else if (v.length === 2) {
      // [time, value] of a 'last' slot; bit sets always have BITSET_WORDS (8) words, never 2.
      const t = v[0] as number;
      const rel = t - timeBase;
      if (Object.is(rel + timeBase, t)) {
        // Object.is: -0 must come back as -0
        w.uvarint(head + SLOT_LAST);
        writeNum(w, rel);
      } else {
        w.uvarint(head + SLOT_LAST_ABS);
        writeNum(w, t);
      }
      writeScalar(w, v[1] as Scalar);
    } else {
      w.uvarint(head + SLOT_BITS);
      writeBits(w, v as readonly number[], what);
    }
  }
}

function isBitsWord(x: unknown): boolean {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x < 4294967296;
}

function readSlots(r: ByteReader, dict: readonly string[], timeBase: number, what: string): SlotValues {
  const out: SlotValues = {};
  for (let n = r.uvarint(); n > 0; n--) {
    const h = r.uvarint();
    const kind = h % 8;
    const slot = dict[(h - kind) / 8];
    if (slot === undefined) throw formatError(what, `slot index ${(h - kind) / 8} is not in the dictionary of ${dict.length}`);
    let v: SlotValue;
    if (kind === SLOT_UINT) v = r.uvarint();
    else if (kind === SLOT_DAY_TIME) v = timeBase + r.uvarint();
    else if (kind === SLOT_NUMBER) v = readNum(r);
    else if (kind === SLOT_LAST) v = [readNum(r) + timeBase, readScalar(r, what)];
    else if (kind === SLOT_LAST_ABS) v = [readNum(r), readScalar(r, what)];
    else if (kind === SLOT_BITS) v = readBits(r, what);
    else throw formatError(what, `unknown slot value kind ${kind}`);
    out[slot] = v;
  }
  return out;
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
 * Header varint: words × 2 + 1 for the sparse form (count of set bits, then each bit's index as the
 * gap from the previous one), words × 2 for the dense form (each word as 4 bytes). The shorter wins.
 */
function writeBits(w: ByteWriter, words: readonly number[], what: string): void {
  const set: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const x = words[i]!;
    if (!isBitsWord(x)) throw formatError(what, `bit set word ${x} is not a uint32`);
    for (let b = 0; b < 32; b++) if ((x >>> b) & 1) set.push(i * 32 + b);
  }
  let sparseBytes = 1;
  for (let i = 0, prev = 0; i < set.length; prev = set[i]!, i++) sparseBytes += set[i]! - prev < 128 ? 1 : 2;
  if (sparseBytes < words.length * 4) {
    w.uvarint(words.length * 2 + 1);
    w.uvarint(set.length);
    let prev = 0;
    for (const bit of set) {
      w.uvarint(bit - prev);
      prev = bit;
    }
  } else {
    w.uvarint(words.length * 2);
    for (const x of words) w.u32(x);
  }
}

function readBits(r: ByteReader, what: string): number[] {
  const h = r.uvarint();
  const n = Math.floor(h / 2);
  if (n > 1 << 16) throw formatError(what, `bit set of ${n} words`);
  const words = new Array<number>(n).fill(0);
  if (h % 2 === 0) {
    for (let i = 0; i < n; i++) words[i] = r.u32();
    return words;
  }
  let bit = 0;
  for (let c = r.uvarint(); c > 0; c--) {
    bit += r.uvarint();
    const i = bit >>> 5;
    if (i >= n) throw formatError(what, `bit ${bit} beyond a set of ${n} words`);
    words[i] = (words[i]! | (1 << (bit & 31))) >>> 0;
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
