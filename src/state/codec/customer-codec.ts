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
import type { Scalar } from '../../events/activity-event.js';
import type { CustomerState, LastScore } from '../customer-state.js';
import type { SlotValues } from '../slots.js';
import { ByteReader, ByteWriter, formatError } from './byte-io.js';
import { layoutError, layoutInfo, type LayoutSlots } from './layout-fingerprint.js';
import { firstLastValues, readColumns, readColumnsV1, writeColumns } from './bucket-columns.js';
import { bestKind, MAX_U53, readNum, readValue, writeNum, writeValue, type LastSeen, type Refs } from './slot-values.js';

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

const DAY_KEY = /^-?(?:0|[1-9]\d*)$/;


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
  writeColumns(w, buckets, dayNumbers, slots, what, v2, uses);
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

/**
 * The archive, row by row: count, then per slot (index × 8 + kind) and the value; times relative to
 * maxEventTime. Version 2 writes the rows in column order and the index as the gap to the previous
 * row's (one byte however many slots the layout has).
 */
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
