// The day buckets of a state, column by column (customer-codec.ts): per slot, which buckets hold it
// (none, all, a bitmap, or the buckets of an earlier column), then its values in day order — one kind
// for the column, a kind byte each, bit-packed, or a reference to an earlier column of equal numbers.
// A slot's header is paid once per customer, not once per bucket. The writer is column-writer.ts.
import { DAY_MS, type Scalar } from '../../events/activity-event.js';
import type { SlotValues } from '../slots.js';
import { ByteReader, formatError } from './byte-io.js';
import { SLOT_UINT, SLOT_AFTER, SLOT_BEFORE, SLOT_NEAR, type Refs, fromRaw, type LastSeen, readValue } from './slot-values.js';

/** A bucket column whose values do not share a kind: each value has its kind byte. */
export const MIXED = 8;
/** Version 2: a column of numbers equal, bucket for bucket, to an earlier column's (varint: how many columns back). */
export const COPY = 9;
/**
 * Version 2: PACKED + kind (UINT, AFTER, BEFORE or NEAR) is that kind's integers bit-packed at the
 * column's width (a byte) instead of one varint each: a count of 1 or 2 takes 2 bits, a time of the
 * day 27 bits instead of 32.
 */
export const PACKED = 16;
export const PACKABLE = [SLOT_UINT, SLOT_AFTER, SLOT_BEFORE, SLOT_NEAR] as const;
/** Widest packed integer: the kinds' values stay below SMALL. */
export const MAX_WIDTH = 49;

// Presence of a slot in the buckets (a bucket column's header varint: kind × 3 + presence in version
// 1, kind × 4 + presence in version 2).
export const IN_NONE = 0;
export const IN_ALL = 1;
export const IN_BITMAP = 2;
/** Version 2: in the same buckets as an earlier column (varint: how many columns back). */
export const IN_SAME = 3;
/** Each slot's first 'last' value in the buckets (day order): what a version-2 archive row may repeat. */
export function firstLastValues(buckets: readonly SlotValues[]): Map<string, Scalar> {
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

/** An earlier column `back` columns before column c, or CF_STATE_FORMAT. */
export function earlier<T>(columns: readonly T[], c: number, back: number, slot: string, what: string): T {
  const col = back >= 1 ? columns[c - back] : undefined;
  if (col === undefined) throw formatError(what, `column of slot ${slot} refers to column ${c - back}`);
  return col;
}

export function readColumns(r: ByteReader, days: readonly number[], dict: readonly string[], what: string): SlotValues[] {
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

export function readBitmap(r: ByteReader, n: number, slot: string, what: string): number[] {
  const present: number[] = [];
  for (let byte = 0; byte < Math.ceil(n / 8); byte++) {
    const bits = r.u8();
    for (let b = 0; b < 8; b++) if (bits & (1 << b)) present.push(byte * 8 + b);
  }
  if (present.some((i) => i >= n)) throw formatError(what, `slot ${slot} present in a bucket beyond the ${n} stored`);
  return present;
}

/** Version 1's columns: header kind × 3 + presence, no column references, no repeated 'last' values. */
export function readColumnsV1(r: ByteReader, days: readonly number[], dict: readonly string[], what: string): SlotValues[] {
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
