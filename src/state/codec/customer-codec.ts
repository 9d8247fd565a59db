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
// was written with, named by a 32-bit fingerprint (layout-fingerprint.ts; the layout itself is
// registered once beside the states, so a reader with another spec maps its slots by id); a state
// holding a slot the layout lacks, or encoded without a layout, lists its slot ids instead (the only
// form of version 1).
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
import type { Scalar } from '../../events/activity-event.js';
import { hasOutboxEntries, type CustomerState, type LastScore } from '../customer-state.js';
import type { SlotValue, SlotValues } from '../slots.js';
import { ByteReader, ByteWriter, formatError } from './byte-io.js';
import { layoutError, layoutInfo, type LayoutResolver, type LayoutSlots } from './layout-fingerprint.js';
import { firstLastValues, readColumns, readColumnsV1 } from './bucket-columns.js';
import { clearTable, firstLastOf, internalized, placeBucket, startTable, writeTableColumns } from './column-writer.js';
import { bestKind, MAX_U53, readNum, readValue, SLOT_LAST, SLOT_LAST_ABS, writeNum, writeValue, type LastSeen, type Refs } from './slot-values.js';

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
   * migration from it; a store writes it only when told to (RedisStoreOptions.writeFormatVersion).
   * Default STATE_FORMAT_VERSION.
   */
  readonly formatVersion?: 1 | 2;
}

/** Reused by every encodeCustomer call (encoding is synchronous): its bytes are copied out at the end. */
const writer = new ByteWriter(4096);
/** The buckets of the state being encoded, in day order (module scratch, see column-writer.ts). */
const dayKeys: string[] = [];
const dayNums: number[] = [];
const dayBuckets: SlotValues[] = [];
const order: number[] = [];

/** The customer's state in format version 2 (or 1, see EncodeOptions). Throws CF_STATE_FORMAT for a state it cannot represent exactly. */
export function encodeCustomer(state: Readonly<CustomerState>, options: EncodeOptions = {}): Buffer {
  try {
    return encode(state, options);
  } finally {
    clearTable();
    dayBuckets.length = 0;
    if (archiveTop >= 0) {
      archiveAt.fill(undefined);
      archiveTop = -1;
    }
  }
}

function encode(state: Readonly<CustomerState>, options: EncodeOptions): Buffer {
  const version = options.formatVersion ?? STATE_FORMAT_VERSION;
  const v2 = version === 2;
  const w = writer;
  w.reset();
  const what = `customer ${state.customerId}`;
  const withOutbox = (options.outbox ?? true) && hasOutboxEntries(state);

  const n = sortDays(state.buckets, what);
  const archive = state.archive;
  // With the layout: its slots, if they hold every slot of the customer (one pass over each bucket's
  // own keys places its values in the column table).
  const info = options.layout && v2 ? layoutInfo(options.layout) : undefined;
  let fits = false;
  if (info !== undefined && inIndex(archive, info.index)) {
    startTable(dayNums, n, info.slots.length);
    fits = true;
    const keys = internalized(info.slots);
    for (let i = 0; i < n && fits; i++) fits = placeBucket(i, dayBuckets[i]!, info.index, keys);
  }
  let slots: readonly string[];
  let index: ReadonlyMap<string, number>;
  if (fits) {
    slots = info!.slots;
    index = info!.index;
  } else {
    // Without the layout: every slot the customer holds, written once, the most used first (ties:
    // first seen, the archive before the buckets in day order).
    const uses = new Map<string, number>();
    for (const slot in archive) uses.set(slot, (uses.get(slot) ?? 0) + 1);
    for (let i = 0; i < n; i++) for (const slot in dayBuckets[i]) uses.set(slot, (uses.get(slot) ?? 0) + 1);
    slots = [...uses].sort((a, b) => b[1] - a[1]).map(([slot]) => slot);
    index = new Map(slots.map((slot, i) => [slot, i]));
    startTable(dayNums, n, slots.length);
    for (let i = 0; i < n; i++) placeBucket(i, dayBuckets[i]!, index, slots);
  }

  const max = state.maxEventTime;
  const scoresRelative = v2 && timeRelative(state.lastScore, max) && timeRelative(state.shadowScore, max);
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

  // Version 2 writes the archive after the buckets: a 'last' value there equal to its column's first
  // one (a profile field that did not change) takes one byte.
  if (!v2) writeArchive(w, archive, index, max, what, false);
  w.uvarint(n);
  for (let i = 0; i < n; i++) {
    if (i === 0) w.svarint(dayNums[0]!);
    else w.uvarint(dayNums[i]! - dayNums[i - 1]!);
  }
  writeTableColumns(w, v2, what);
  if (v2) writeArchive(w, archive, index, max, what, true);

  // Times relative to maxEventTime (a few bytes), unless one of them would not come back exactly.
  const recent = state.recentEvents;
  let relative = true;
  for (let i = 0; i < recent.length && relative; i++) relative = Object.is(max - (max - recent[i]![1]), recent[i]![1]);
  w.uvarint(recent.length * 2 + (relative ? 0 : 1));
  for (let i = 0; i < recent.length; i++) {
    const hash = recent[i]![0];
    const time = recent[i]![1];
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

/** Whether a score's event time comes back exactly relative to maxEventTime (no score: yes). */
function timeRelative(s: LastScore | null | undefined, max: number): boolean {
  return !s || Object.is(max - (max - s.eventTime), s.eventTime);
}

function inIndex(values: SlotValues, index: ReadonlyMap<string, number>): boolean {
  for (const slot in values) if (!index.has(slot)) return false;
  return true;
}

/**
 * Fills dayNums and dayBuckets with the state's buckets in ascending day order; returns how many.
 * A key that is not a day index (an optional minus, then 0 or digits without a leading 0) fails with
 * CF_STATE_FORMAT.
 */
function sortDays(buckets: Readonly<Record<string, SlotValues>>, what: string): number {
  dayKeys.length = 0;
  dayNums.length = 0;
  dayBuckets.length = 0;
  let sorted = true;
  let canonical = true;
  // Object.keys, not for…in (nor Object.values): the day-keyed container has sparse integer keys
  // (dictionary elements), slow to enumerate; each bucket is then looked up by its day number (an
  // element load), not by its key string.
  const keys = Object.keys(buckets);
  for (let k = 0; k < keys.length; k++) {
    const d = keys[k]!;
    const kind = dayKeyKind(d);
    if (kind === 0) throw formatError(what, `bucket key ${JSON.stringify(d)} is not a day index`);
    if (kind === 2) canonical = false;
    const num = kind === 1 ? parsedDay : Number(d);
    if (dayNums.length > 0 && num < dayNums[dayNums.length - 1]!) sorted = false;
    dayKeys.push(d);
    dayNums.push(num);
    dayBuckets.push(buckets[num]!);
  }
  const n = dayNums.length;
  if (!sorted) {
    // Negative day keys come after the others in key order.
    order.length = 0;
    for (let i = 0; i < n; i++) order.push(i);
    order.sort((a, b) => dayNums[a]! - dayNums[b]!);
    const keys = order.map((i) => dayKeys[i]!);
    const nums = order.map((i) => dayNums[i]!);
    const bs = order.map((i) => dayBuckets[i]!);
    for (let i = 0; i < n; i++) {
      dayKeys[i] = keys[i]!;
      dayNums[i] = nums[i]!;
      dayBuckets[i] = bs[i]!;
    }
  }
  // A key such as "-0" or one of more than 15 digits reads as another number: the bucket is looked
  // up by that number's key, as the format has always done.
  if (!canonical) for (let i = 0; i < n; i++) dayBuckets[i] = buckets[String(dayNums[i]!)]!;
  return n;
}

/** dayKeyKind's number of a key of kind 1. */
let parsedDay = 0;

/**
 * 0: not a day index (/^-?(?:0|[1-9]\d*)$/, checked without a regular expression); 1: one whose
 * number (left in parsedDay: at most 15 digits, exact) gives back the very key; 2: a day index that
 * does not ("-0", more than 15 digits).
 */
function dayKeyKind(d: string): number {
  const len = d.length;
  let at = 0;
  if (len > 0 && d.charCodeAt(0) === 45 /* - */) at = 1;
  if (at === len) return 0;
  const first = d.charCodeAt(at);
  if (first === 48 /* 0 */) {
    if (at + 1 !== len) return 0;
    parsedDay = 0;
    return at === 1 ? 2 : 1;
  }
  let v = 0;
  for (let i = at; i < len; i++) {
    const ch = d.charCodeAt(i);
    if (ch < 48 || ch > 57) return 0;
    v = v * 10 + (ch - 48);
  }
  parsedDay = at === 1 ? -v : v;
  return len - at > 15 ? 2 : 1;
}

/**
 * Decodes what encodeCustomer wrote (format version 2, or version 1 of the engines before it). A first
 * byte of another version (a newer engine's format, or not a state at all) and a truncated or malformed
 * body fail with CF_STATE_FORMAT. A state that names another layout than `layout` (written with
 * another feature spec) is read with the slots `resolve` gives for its fingerprint (the registered
 * layout); when it gives none, it fails with CF_STATE_LAYOUT. Both errors name the rebuild: replaying
 * the activity topic from Kafka.
 *
 * Slots are mapped by id, whether the state lists them or names another layout: a slot of `layout`
 * the state lacks is simply absent (its windows fill from new events), a slot `layout` lacks is
 * dropped (no feature reads it, and expiring buckets drop it from the archive anyway; kept, it would
 * force a slot list into every later write of the customer). Without `layout` every slot is kept.
 */
export function decodeCustomer(customerId: string, bytes: Buffer, layout?: LayoutSlots, resolve?: LayoutResolver): CustomerState {
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
  // The reader's layout when the state's slots may not all be in it (listed, or another layout's).
  let mapInto: ReadonlyMap<string, number> | undefined;
  if (!v2 || flags & FLAG_DICT) {
    const listed: string[] = [];
    for (let n = r.uvarint(); n > 0; n--) listed.push(r.str());
    dict = listed;
    mapInto = layout ? layoutInfo(layout).index : undefined;
  } else {
    const fingerprint = r.u32();
    const info = layout ? layoutInfo(layout) : undefined;
    if (info?.fingerprint === fingerprint) dict = info.slots;
    else {
      const stored = resolve?.(fingerprint);
      if (stored === undefined) throw layoutError(customerId, fingerprint, info?.fingerprint);
      dict = layoutInfo(stored).slots;
      mapInto = info?.index;
    }
  }
  let archive = v2 ? {} : readArchive(r, dict, maxEventTime, what, false);
  const days: number[] = [];
  for (let i = 0, n = r.uvarint(); i < n; i++) days.push(i === 0 ? r.svarint() : days[i - 1]! + r.uvarint());
  const columns = v2 ? readColumns(r, days, dict, what) : readColumnsV1(r, days, dict, what);
  if (v2) archive = readArchive(r, dict, maxEventTime, what, true, firstLastValues(columns));
  const buckets: Record<string, SlotValues> = {};
  // By number, not String(d): the same key (an integer day), without a string per bucket.
  for (let i = 0; i < days.length; i++) buckets[days[i]!] = columns[i]!;
  const dropped = mapInto === undefined ? [] : dict.filter((slot) => !mapInto.has(slot));
  if (dropped.length > 0) for (const values of [archive, ...columns]) for (const slot of dropped) delete values[slot];
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

/**
 * The archive, row by row: count, then per slot (index × 8 + kind) and the value; times relative to
 * maxEventTime. Version 2 writes the rows in column order and the index as the gap to the previous
 * row's (one byte however many slots the layout has), and a 'last' row equal to its column's first
 * 'last' value in the buckets as SC_SAME (the column table of column-writer.ts must hold the buckets).
 */
function writeArchive(w: ByteWriter, values: SlotValues, index: ReadonlyMap<string, number>, maxEventTime: number, what: string, gaps: boolean): void {
  const refs: Refs = { base: maxEventTime, ref: maxEventTime };
  if (gaps) {
    // Rows in column order without a sort: each value set at its column, then the columns walked.
    let count = 0;
    for (const slot in values) {
      const c = index.get(slot)!;
      while (archiveAt.length <= c) archiveAt.push(undefined);
      archiveAt[c] = values[slot]!;
      if (c > archiveTop) archiveTop = c;
      count++;
    }
    w.uvarint(count);
    let previous = -1;
    for (let c = 0; c <= archiveTop; c++) {
      const v = archiveAt[c];
      if (v === undefined) continue;
      archiveAt[c] = undefined;
      const kind = bestKind(v, refs);
      w.uvarint((c - previous - 1) * 8 + kind);
      previous = c;
      // Only a 'last' value reads its previous one.
      writeValue(w, kind, v, refs, what, kind === SLOT_LAST || kind === SLOT_LAST_ABS ? firstLastOf(c) : NO_SEEN);
    }
    archiveTop = -1;
    return;
  }
  const rows = Object.keys(values).map((slot) => [index.get(slot)!, slot] as const);
  w.uvarint(rows.length);
  for (const [i, slot] of rows) {
    const v = values[slot]!;
    const kind = bestKind(v, refs);
    w.uvarint(i * 8 + kind);
    writeValue(w, kind, v, refs, what, undefined);
  }
}

/** writeArchive's rows by column (module scratch, emptied as they are written; cleared after a failed encode). */
const archiveAt: (SlotValue | undefined)[] = [];
let archiveTop = -1;

const NO_SEEN: LastSeen = { has: false, value: null };

/** A row's 'previous value' for SC_SAME: its column's first 'last' value, when there is one (version 2: firstLast given). */
function seenOf(firstLast: ReadonlyMap<string, Scalar> | undefined, slot: string): LastSeen | undefined {
  if (firstLast === undefined) return undefined;
  return firstLast.has(slot) ? { has: true, value: firstLast.get(slot)! } : { has: false, value: null };
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
