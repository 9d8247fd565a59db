// The binary form of one customer's state: what the Redis store keeps (field `b` of the customer's
// hash) and what the memory store counts as a customer's size. Every value round-trips exactly: a
// number is stored in the shortest form that gives back the very same double (an integer as a zigzag
// varint, a value with at most two decimals — money — as fixed-point hundredths, a float32-exact value
// in 4 bytes, anything else as its 8 IEEE bytes), so features computed from a decoded state are the
// features of the state that was encoded. Layout of format version 2 (docs/architecture.md, "Redis
// state store"):
//
//   u8 version · varint flags · num maxEventTime · positions · layout fingerprint (or a slot
//   dictionary) · buckets · archive · recent event ids · [lastScore] · [shadowScore] · [outbox]
//
// Slots are not named in the state: its columns follow the slots of the layout (the feature spec) it
// was written with, named by a 32-bit fingerprint (layout-fingerprint.ts); a state holding a slot the
// layout lacks, or encoded without a layout, lists its slot ids instead (the only form of version 1).
// Day buckets are sparse: their day indices ascending, delta-coded, then one column per slot: which
// buckets hold it (none, all, a bitmap, or the same buckets as an earlier column), its values in day
// order, or "the same values as an earlier column" (two slots counting the same events). A 'last'
// time inside a bucket is stored relative to the bucket's day, a 'last' value equal to the column's
// previous one as one byte (profile fields repeat; an archive row's against its column's first
// value). Distinct-count bit sets are stored as their set
// bit indices when that is shorter than the words. Recent event ids keep their full 53-bit hash (7
// bytes: 32 bits would make a false duplicate, a dropped event, a billion times likelier) and their
// time relative to maxEventTime. Outbox entries are opaque strings, kept byte for byte. Version 1
// (a dictionary in every state, the archive before the buckets, no column references, no repeated
// values) is still read.
import { DAY_MS, type Scalar } from '../../events/activity-event.js';
import type { CustomerState, LastScore } from '../customer-state.js';
import { BITSET_WORDS, type SlotValue, type SlotValues } from '../slots.js';
import { ByteReader, ByteWriter, formatError } from './byte-io.js';
import { layoutError, layoutInfo, type LayoutSlots } from './layout-fingerprint.js';

/** The format version encodeCustomer writes in the first byte. */
export const STATE_FORMAT_VERSION = 2;
/** Versions decodeCustomer reads; any other is refused (see decodeCustomer). */
export const READABLE_FORMAT_VERSIONS: readonly number[] = [1, 2];

const FLAG_LAST_SCORE = 1;
const FLAG_SHADOW_PRESENT = 2;
const FLAG_SHADOW_NULL = 4;
const FLAG_OUTBOX = 8;
/** Version 2: the state lists its slot ids (a slot outside the layout, or no layout given) instead of the layout fingerprint. */
const FLAG_DICT = 16;
/** Version 2: the scores' event times are absolute (a time relative to maxEventTime would not come back exactly). */
const FLAG_SCORE_TIME_ABS = 32;

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
/** Version 2: a column of numbers equal, bucket for bucket, to an earlier column's (varint: how many columns back). */
const COPY = 9;
/**
 * Version 2: PACKED + kind (UINT, AFTER, BEFORE or NEAR) is that kind's integers bit-packed at the
 * column's width (a byte) instead of one varint each: a count of 1 or 2 takes 2 bits, a time of the
 * day 27 bits instead of 32.
 */
const PACKED = 16;
const PACKABLE = [SLOT_UINT, SLOT_AFTER, SLOT_BEFORE, SLOT_NEAR] as const;
/** Widest packed integer: the kinds' values stay below SMALL. */
const MAX_WIDTH = 49;

// Presence of a slot in the buckets (a bucket column's header varint: kind × 3 + presence in version
// 1, kind × 4 + presence in version 2).
const IN_NONE = 0;
const IN_ALL = 1;
const IN_BITMAP = 2;
/** Version 2: in the same buckets as an earlier column (varint: how many columns back). */
const IN_SAME = 3;

// Scalar kinds of a 'last' value.
const SC_NULL = 0;
const SC_FALSE = 1;
const SC_TRUE = 2;
const SC_NUMBER = 3;
const SC_STRING = 4;
/** Version 2: the same value as the column's previous 'last' value (in day order; an archive row: its column's first). */
const SC_SAME = 5;
/** Version 2: an integer near the 'last' value's own time (a renewal or signup time), as the zigzag varint of the distance. */
const SC_NEAR_TIME = 6;

const DAY_KEY = /^-?(?:0|[1-9]\d*)$/;
const MAX_U53 = 2 ** 53;

export interface EncodeOptions {
  /** Include the outbox (default true). The Redis store keeps outbox entries in fields of their own. */
  readonly outbox?: boolean;
  /**
   * The slots of the layout the state follows (StateLayout.merges): the state then names it by its
   * fingerprint instead of listing its slot ids. Without it, or when the state holds a slot the layout
   * lacks, the slot ids are written (readable whatever the reader's layout).
   */
  readonly layout?: LayoutSlots;
  /**
   * 1: the format of the engines before version 2 (a slot dictionary in every state, no column
   * references). Kept to measure it beside version 2 (bench/redis-state.bench.ts) and to test the
   * migration from it; the stores never write it. Default STATE_FORMAT_VERSION.
   */
  readonly formatVersion?: 1 | 2;
}

/** The customer's state in format version 2 (or 1, see EncodeOptions). Throws CF_STATE_FORMAT for a state it cannot represent exactly. */
export function encodeCustomer(state: Readonly<CustomerState>, options: EncodeOptions = {}): Buffer {
  const version = options.formatVersion ?? STATE_FORMAT_VERSION;
  const v2 = version === 2;
  const w = new ByteWriter(512);
  const what = `customer ${state.customerId}`;
  const withOutbox = (options.outbox ?? true) && Object.keys(state.outbox).length > 0;

  const days = Object.keys(state.buckets);
  for (const d of days) if (!DAY_KEY.test(d)) throw formatError(what, `bucket key ${JSON.stringify(d)} is not a day index`);
  const dayNumbers = days.map(Number).sort((a, b) => a - b);
  const uses = new Map<string, number>();
  const collect = (values: SlotValues) => {
    for (const slot in values) uses.set(slot, (uses.get(slot) ?? 0) + 1);
  };
  collect(state.archive);
  for (const d of dayNumbers) collect(state.buckets[String(d)]!);
  const info = options.layout && v2 ? layoutInfo(options.layout) : undefined;
  let fits = info !== undefined;
  if (info) for (const slot of uses.keys()) if (!info.index.has(slot)) fits = false;
  // Without the layout: every slot the customer holds, written once, the most used first.
  const slots = fits ? info!.slots : [...uses].sort((a, b) => b[1] - a[1]).map(([slot]) => slot);

  const max = state.maxEventTime;
  const scoresRelative = v2 && [state.lastScore, state.shadowScore].every((s) => !s || Object.is(max - (max - s.eventTime), s.eventTime));
  w.u8(version);
  let flags = 0;
  if (state.lastScore) flags |= FLAG_LAST_SCORE;
  if (state.shadowScore) flags |= FLAG_SHADOW_PRESENT;
  else if (state.shadowScore === null) flags |= FLAG_SHADOW_NULL;
  if (withOutbox) flags |= FLAG_OUTBOX;
  if (v2 && !fits) flags |= FLAG_DICT;
  if (v2 && !scoresRelative) flags |= FLAG_SCORE_TIME_ABS;
  w.uvarint(flags);
  writeNum(w, max);

  const streams = Object.keys(state.positions);
  w.uvarint(streams.length);
  for (const s of streams) {
    w.str(s);
    writeNum(w, state.positions[s]!);
  }

  if (fits) w.u32(info!.fingerprint);
  else {
    w.uvarint(slots.length);
    for (const slot of slots) w.str(slot);
  }
  const index = fits ? info!.index : new Map(slots.map((slot, i) => [slot, i]));

  // Version 2 writes the archive after the buckets: a 'last' value there equal to its column's first
  // one (a profile field that did not change) takes one byte.
  if (!v2) writeArchive(w, state.archive, index, max, what, false);
  const buckets = dayNumbers.map((d) => state.buckets[String(d)]!);
  w.uvarint(dayNumbers.length);
  dayNumbers.forEach((d, i) => {
    if (i === 0) w.svarint(d);
    else w.uvarint(d - dayNumbers[i - 1]!);
  });
  writeColumns(w, buckets, dayNumbers, slots, what, v2);
  if (v2) writeArchive(w, state.archive, index, max, what, true, firstLastValues(buckets));

  // Times relative to maxEventTime (a few bytes), unless one of them would not come back exactly.
  const relative = state.recentEvents.every(([, t]) => Object.is(max - (max - t), t));
  w.uvarint(state.recentEvents.length * 2 + (relative ? 0 : 1));
  for (const [hash, time] of state.recentEvents) {
    if (!(Number.isInteger(hash) && hash >= 0 && hash < MAX_U53)) throw formatError(what, `recent event hash ${hash} is not a 53-bit unsigned integer`);
    w.u53(hash);
    writeNum(w, relative ? max - time : time);
  }

  const scoreBase = scoresRelative ? max : undefined;
  if (state.lastScore) writeScore(w, state.lastScore, scoreBase);
  if (state.shadowScore) writeScore(w, state.shadowScore, scoreBase);
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
 * Decodes what encodeCustomer wrote (format version 2, or version 1 of the engines before it). A first
 * byte of another version (a newer engine's format, or not a state at all) and a truncated or malformed
 * body fail with CF_STATE_FORMAT; a state that names another layout than `layout` (written with
 * another feature spec) fails with CF_STATE_LAYOUT. Both name the rebuild: replaying the activity
 * topic from Kafka.
 */
export function decodeCustomer(customerId: string, bytes: Buffer, layout?: LayoutSlots): CustomerState {
  const what = `customer ${customerId}`;
  const r = new ByteReader(bytes, what);
  const version = r.u8();
  if (!READABLE_FORMAT_VERSIONS.includes(version)) throw formatError(what, `format version ${version}, this engine reads versions ${READABLE_FORMAT_VERSIONS.join(' and ')}`);
  const v2 = version === 2;
  const flags = r.uvarint();
  const maxEventTime = readNum(r);
  const positions: Record<string, number> = {};
  for (let n = r.uvarint(); n > 0; n--) {
    const s = r.str();
    positions[s] = readNum(r);
  }
  let dict: readonly string[];
  if (!v2 || flags & FLAG_DICT) {
    const listed: string[] = [];
    for (let n = r.uvarint(); n > 0; n--) listed.push(r.str());
    dict = listed;
  } else {
    const fingerprint = r.u32();
    const info = layout ? layoutInfo(layout) : undefined;
    if (info?.fingerprint !== fingerprint) throw layoutError(customerId, fingerprint, info?.fingerprint);
    dict = info.slots;
  }
  let archive = v2 ? {} : readArchive(r, dict, maxEventTime, what, false);
  const days: number[] = [];
  for (let i = 0, n = r.uvarint(); i < n; i++) days.push(i === 0 ? r.svarint() : days[i - 1]! + r.uvarint());
  const columns = v2 ? readColumns(r, days, dict, what) : readColumnsV1(r, days, dict, what);
  if (v2) archive = readArchive(r, dict, maxEventTime, what, true, firstLastValues(columns));
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
  const scoreBase = v2 && !(flags & FLAG_SCORE_TIME_ABS) ? maxEventTime : undefined;
  const lastScore = flags & FLAG_LAST_SCORE ? readScore(r, scoreBase) : null;
  const shadowScore = flags & FLAG_SHADOW_PRESENT ? readScore(r, scoreBase) : flags & FLAG_SHADOW_NULL ? null : undefined;
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

/** The unsigned integer a packable kind stores for v (its varint's value). */
function rawOf(kind: number, v: number, refs: Refs): number {
  switch (kind) {
    case SLOT_UINT:
      return v;
    case SLOT_AFTER:
      return v - refs.base;
    case SLOT_BEFORE:
      return refs.base - v;
    default:
      return zigzag(v - refs.ref);
  }
}

/** The value of a packable kind's integer; moves refs.ref as readValue does. */
function fromRaw(kind: number, raw: number, refs: Refs): number {
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

function bitWidth(max: number): number {
  let width = 0;
  while (max >= 1) {
    max = Math.floor(max / 2);
    width++;
  }
  return width;
}

/** The cheapest kind for one value. */
function bestKind(v: SlotValue, refs: Refs): number {
  fillCosts(v, refs, scratch);
  return cheapest(scratch);
}

/**
 * A bucket column's previous 'last' value (version 2): a value equal to it is written as SC_SAME.
 * Given (even with has false) exactly where version 2 is written: it also allows SC_NEAR_TIME.
 */
interface LastSeen {
  has: boolean;
  value: Scalar;
}

function writeValue(w: ByteWriter, kind: number, v: SlotValue, refs: Refs, what: string, seen?: LastSeen): void {
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

function readValue(r: ByteReader, kind: number, refs: Refs, what: string, seen?: LastSeen): SlotValue {
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

/**
 * The archive, row by row: count, then per slot (index × 8 + kind) and the value; times relative to
 * maxEventTime. Version 2 writes the rows in column order and the index as the gap to the previous
 * row's (one byte however many slots the layout has).
 */
/** Each slot's first 'last' value in the buckets (day order): what a version-2 archive row may repeat. */
function firstLastValues(buckets: readonly SlotValues[]): Map<string, Scalar> {
  const first = new Map<string, Scalar>();
  for (const b of buckets) {
    for (const slot in b) {
      const v = b[slot]!;
      // A 'last' is [time, value]; bit sets always have BITSET_WORDS (8) words.
      if (typeof v !== 'number' && v.length === 2 && !first.has(slot)) first.set(slot, v[1] as Scalar);
    }
  }
  return first;
}

function writeArchive(w: ByteWriter, values: SlotValues, index: ReadonlyMap<string, number>, maxEventTime: number, what: string, gaps: boolean, firstLast?: ReadonlyMap<string, Scalar>): void {
  const rows = Object.keys(values).map((slot) => [index.get(slot)!, slot] as const);
  if (gaps) rows.sort((a, b) => a[0] - b[0]);
  const refs: Refs = { base: maxEventTime, ref: maxEventTime };
  w.uvarint(rows.length);
  let previous = -1;
  for (const [i, slot] of rows) {
    const v = values[slot]!;
    const kind = bestKind(v, refs);
    w.uvarint((gaps ? i - previous - 1 : i) * 8 + kind);
    previous = i;
    writeValue(w, kind, v, refs, what, seenOf(firstLast, slot));
  }
}

/** A row's 'previous value' for SC_SAME: its column's first 'last' value, when there is one (version 2: firstLast given). */
function seenOf(firstLast: ReadonlyMap<string, Scalar> | undefined, slot: string): LastSeen | undefined {
  if (firstLast === undefined) return undefined;
  return firstLast.has(slot) ? { has: true, value: firstLast.get(slot)! } : { has: false, value: null };
}

/** Whether a 'last' value is an integer whose distance to the value's time is a shorter varint than the number itself. */
function nearTime(value: number, t: number): boolean {
  return isSafeInt(value) && isSafeInt(t) && Math.abs(value - t) < SMALL && vlen(zigzag(value - t)) + 1 < 1 + numCost(value);
}

function readArchive(r: ByteReader, dict: readonly string[], maxEventTime: number, what: string, gaps: boolean, firstLast?: ReadonlyMap<string, Scalar>): SlotValues {
  const out: SlotValues = {};
  const refs: Refs = { base: maxEventTime, ref: maxEventTime };
  let previous = -1;
  for (let n = r.uvarint(); n > 0; n--) {
    const h = r.uvarint();
    const kind = h % 8;
    const i = gaps ? previous + 1 + (h - kind) / 8 : (h - kind) / 8;
    previous = i;
    const slot = dict[i];
    if (slot === undefined) throw formatError(what, `slot index ${i} is not among the ${dict.length} slots`);
    out[slot] = readValue(r, kind, refs, what, seenOf(firstLast, slot));
  }
  return out;
}

/** What the column writer remembers of a written column, for later columns to refer to. */
interface WrittenColumn {
  /** Which buckets hold the slot: 'all', or the bitmap's bytes (latin1). */
  readonly presence: string;
  /** The values in day order when all are numbers (a later column may then be a COPY of it). */
  readonly numbers: readonly number[] | undefined;
}

/**
 * The buckets, column by column (slot by slot, in layout or dictionary order): which buckets hold the
 * slot (none, all, a bitmap over the buckets, or the buckets of an earlier column), then its values in
 * day order, with one kind for the column when they share it — or, for a column of numbers equal to an
 * earlier one, only a reference to it. A slot's header is paid once per customer, not once per bucket.
 */
function writeColumns(w: ByteWriter, buckets: readonly SlotValues[], days: readonly number[], slots: readonly string[], what: string, v2: boolean): void {
  /** Version 1: kind × 3 + presence, and none of version 2's references. */
  const header = (kind: number, presence: number) => w.uvarint(v2 ? kind * 4 + presence : kind * 3 + presence);
  const refs = days.map((d): Refs => ({ base: d * DAY_MS, ref: d * DAY_MS }));
  const n = buckets.length;
  const present = new Int32Array(n);
  const kinds = new Uint8Array(n);
  const totals = new Float64Array(KINDS);
  const bitmap = new Uint8Array(Math.ceil(n / 8));
  const maxRaw = new Float64Array(KINDS);
  const raws = new Float64Array(n);
  const written: WrittenColumn[] = [];
  /** The latest column with a given bitmap. */
  const byPresence = new Map<string, number>();
  for (let c = 0; c < slots.length; c++) {
    const slot = slots[c]!;
    let count = 0;
    // One kind for the whole column if some kind fits every value and costs no more than a kind byte
    // per value would; else each value its cheapest kind, after a kind byte.
    totals.fill(0);
    maxRaw.fill(0);
    let mixed = 0;
    let allNumbers = true;
    for (let i = 0; i < n; i++) {
      const v = buckets[i]![slot];
      if (v === undefined) continue;
      if (typeof v !== 'number') allNumbers = false;
      fillCosts(v, refs[i]!, scratch);
      const best = cheapest(scratch);
      kinds[count] = best;
      present[count++] = i;
      mixed += 1 + scratch[best]!;
      for (let k = 0; k < KINDS; k++) totals[k]! += scratch[k]!;
      if (v2 && typeof v === 'number') for (const k of PACKABLE) if (scratch[k]! < Infinity) maxRaw[k] = Math.max(maxRaw[k]!, rawOf(k, v, refs[i]!));
    }
    const presence = count === 0 ? IN_NONE : count === n ? IN_ALL : IN_BITMAP;
    let signature = presence === IN_NONE ? 'none' : 'all';
    if (presence === IN_BITMAP) {
      bitmap.fill(0);
      for (let j = 0; j < count; j++) bitmap[present[j]! >>> 3]! |= 1 << (present[j]! & 7);
      signature = Buffer.from(bitmap.buffer, bitmap.byteOffset, bitmap.length).toString('latin1');
    }
    const numbers = count > 0 && allNumbers ? Array.from(present.subarray(0, count), (i) => buckets[i]![slot] as number) : undefined;
    written.push({ presence: signature, numbers });
    if (count === 0) {
      header(SLOT_UINT, IN_NONE);
      continue;
    }
    const copyOf = numbers === undefined || !v2 ? -1 : written.findIndex((col, j) => j < c && col.presence === signature && sameNumbers(col.numbers, numbers));
    if (copyOf >= 0) {
      // Not even the refs move: the reader copies the values without reading any.
      w.uvarint(COPY * 4);
      w.uvarint(c - copyOf);
      continue;
    }
    let kind = MIXED;
    let cost = mixed;
    for (let k = 0; k < KINDS; k++) {
      if (totals[k]! <= cost) {
        kind = k;
        cost = totals[k]!;
      }
    }
    let width = 0;
    if (v2) {
      for (const k of PACKABLE) {
        if (!(totals[k]! < Infinity)) continue;
        const bits = bitWidth(maxRaw[k]!);
        const packedCost = 1 + Math.ceil((count * bits) / 8);
        if (bits <= MAX_WIDTH && packedCost < cost) {
          kind = PACKED + k;
          cost = packedCost;
          width = bits;
        }
      }
    }
    const same = presence === IN_BITMAP && v2 ? byPresence.get(signature) : undefined;
    if (same !== undefined) {
      header(kind, IN_SAME);
      w.uvarint(c - same);
    } else {
      header(kind, presence);
      if (presence === IN_BITMAP) for (const byte of bitmap) w.u8(byte);
    }
    if (presence === IN_BITMAP) byPresence.set(signature, c);
    if (kind >= PACKED) {
      const k = kind - PACKED;
      for (let j = 0; j < count; j++) {
        const i = present[j]!;
        const v = buckets[i]![slot] as number;
        raws[j] = rawOf(k, v, refs[i]!);
        if (k !== SLOT_UINT) refs[i]!.ref = v;
      }
      w.u8(width);
      w.packed(raws, count, width);
      continue;
    }
    const seen: LastSeen | undefined = v2 ? { has: false, value: null } : undefined;
    for (let j = 0; j < count; j++) {
      const i = present[j]!;
      if (kind === MIXED) w.u8(kinds[j]!);
      writeValue(w, kind === MIXED ? kinds[j]! : kind, buckets[i]![slot]!, refs[i]!, what, seen);
    }
  }
}

function sameNumbers(a: readonly number[] | undefined, b: readonly number[]): boolean {
  if (a === undefined || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/** An earlier column `back` columns before column c, or CF_STATE_FORMAT. */
function earlier<T>(columns: readonly T[], c: number, back: number, slot: string, what: string): T {
  const col = back >= 1 ? columns[c - back] : undefined;
  if (col === undefined) throw formatError(what, `column of slot ${slot} refers to column ${c - back}`);
  return col;
}

function readColumns(r: ByteReader, days: readonly number[], dict: readonly string[], what: string): SlotValues[] {
  const out = days.map((): SlotValues => ({}));
  const refs = days.map((d): Refs => ({ base: d * DAY_MS, ref: d * DAY_MS }));
  const presences: (readonly number[])[] = [];
  const numbers: ((readonly number[]) | undefined)[] = [];
  const all = days.map((_, i) => i);
  for (let c = 0; c < dict.length; c++) {
    const slot = dict[c]!;
    const h = r.uvarint();
    const presence = h % 4;
    const kind = (h - presence) / 4;
    if (kind === COPY) {
      const back = r.uvarint();
      const values = earlier(numbers, c, back, slot, what);
      if (values === undefined) throw formatError(what, `column of slot ${slot} copies a column that is not all numbers`);
      const at = presences[c - back]!;
      at.forEach((i, j) => {
        out[i]![slot] = values[j]!;
      });
      presences.push(at);
      numbers.push(values);
      continue;
    }
    let present: readonly number[];
    if (presence === IN_NONE) present = [];
    else if (presence === IN_ALL) present = all;
    else if (presence === IN_SAME) present = earlier(presences, c, r.uvarint(), slot, what);
    else present = readBitmap(r, days.length, slot, what);
    if (kind >= PACKED) {
      const k = kind - PACKED;
      const width = r.u8();
      if (!(PACKABLE as readonly number[]).includes(k) || width > MAX_WIDTH) throw formatError(what, `column of slot ${slot}: packed kind ${k} of width ${width}`);
      const raw = r.packed(present.length, width);
      const values = present.map((i, j) => (out[i]![slot] = fromRaw(k, raw[j]!, refs[i]!)));
      presences.push(present);
      numbers.push(present.length > 0 ? values : undefined);
      continue;
    }
    const seen: LastSeen = { has: false, value: null };
    let nums: number[] | undefined = [];
    for (const i of present) {
      const v = readValue(r, kind === MIXED ? r.u8() : kind, refs[i]!, what, seen);
      out[i]![slot] = v;
      if (typeof v === 'number') nums?.push(v);
      else nums = undefined;
    }
    presences.push(present);
    numbers.push(present.length > 0 ? nums : undefined);
  }
  return out;
}

function readBitmap(r: ByteReader, n: number, slot: string, what: string): number[] {
  const present: number[] = [];
  for (let byte = 0; byte < Math.ceil(n / 8); byte++) {
    const bits = r.u8();
    for (let b = 0; b < 8; b++) if (bits & (1 << b)) present.push(byte * 8 + b);
  }
  if (present.some((i) => i >= n)) throw formatError(what, `slot ${slot} present in a bucket beyond the ${n} stored`);
  return present;
}

/** Version 1's columns: header kind × 3 + presence, no column references, no repeated 'last' values. */
function readColumnsV1(r: ByteReader, days: readonly number[], dict: readonly string[], what: string): SlotValues[] {
  const out = days.map((): SlotValues => ({}));
  const refs = days.map((d): Refs => ({ base: d * DAY_MS, ref: d * DAY_MS }));
  for (const slot of dict) {
    const h = r.uvarint();
    const presence = h % 3;
    const kind = (h - presence) / 3;
    const present = presence === IN_NONE ? [] : presence === IN_ALL ? days.map((_, i) => i) : readBitmap(r, days.length, slot, what);
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

function readScalar(r: ByteReader, what: string, seen?: LastSeen): Scalar {
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

/** A score; its event time relative to `base` (maxEventTime: a few bytes instead of 7) when given. */
function writeScore(w: ByteWriter, s: LastScore, base: number | undefined): void {
  writeNum(w, s.score);
  w.str(s.band);
  w.str(s.modelName);
  w.str(s.modelVersion);
  writeNum(w, base === undefined ? s.eventTime : base - s.eventTime);
  w.str(s.riskEventId);
}

function readScore(r: ByteReader, base: number | undefined): LastScore {
  const score = readNum(r);
  const band = r.str();
  const modelName = r.str();
  const modelVersion = r.str();
  const t = readNum(r);
  const eventTime = base === undefined ? t : base - t;
  const riskEventId = r.str();
  return { score, band, modelName, modelVersion, eventTime, riskEventId };
}
