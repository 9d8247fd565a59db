// The write side of the bucket columns (bucket-columns.ts has the format and the readers): the
// customer's day buckets transposed once into a column-major table (column = slot index in layout or
// dictionary order, row = bucket in day order), then each column written as bucket-columns.ts
// describes. It runs on every state write, so it is written for speed (≈4× the straightforward
// version it replaced, same bytes — test/unit/state/encoder-golden.test.ts): one pass over each
// bucket's own keys instead of a string-keyed lookup per slot × bucket, the kind costs of a value in
// local variables instead of a cost array per value, presence and COPY matches by comparing the
// columns' bucket indices and values in the table instead of latin1 signatures and copied arrays,
// and module-level scratch arrays reused across calls (encoding is synchronous and not re-entrant).
// Session 9 (same bytes, test/unit/state/encoder-digests.test.ts): numbers are read out of the state
// once, into a typed table, when their bucket is placed; the passes visit only the cells a column
// holds; and the column pass is small functions, each within TurboFan's inlining budget.
import { DAY_MS, type Scalar } from '../../events/activity-event.js';
import type { SlotValue, SlotValues } from '../slots.js';
import type { ByteWriter } from './byte-io.js';
import { COPY, IN_ALL, IN_BITMAP, IN_NONE, IN_SAME, MAX_WIDTH, MIXED, PACKED } from './bucket-columns.js';
import { bitWidth, isSafeInt, numCost, SLOT_AFTER, SLOT_BEFORE, SLOT_BITS, SLOT_LAST, SLOT_LAST_ABS, SLOT_NEAR, SLOT_NUMBER, SLOT_UINT, SMALL, vlen, writeValue, zigzag, type LastSeen } from './slot-values.js';

const INF = Infinity;

// ---------------------------------------------------------------- the table (module scratch)

/** Rows: the buckets in day order. */
let rows = 0;
/** Columns: the slots in layout or dictionary order. */
let cols = 0;
/**
 * Cell c × rows + i: slot c's value in bucket i. tags says what it holds (1: a number, unboxed in
 * nums; 2: a 'last' tuple or a bit set, in cells); only the cells a column's `present` list names are
 * ever read, so nothing needs clearing but the object references (cleared before and after each use).
 * Numbers are read out of the state once, when placed: every later pass reads doubles from a typed
 * array instead of following a pointer to a boxed number each time.
 */
const cells: (SlotValue | undefined)[] = [];
let tags = new Uint8Array(256);
let nums = new Float64Array(256);
/** Where objects were placed (filled[0 … placed)): clearing visits only those. */
let filled = new Int32Array(1024);
let placed = 0;
/** Per bucket: its day start (the base of AFTER and BEFORE) and the previous time written in it (NEAR, LAST). */
let base = new Float64Array(64);
let ref = new Float64Array(64);
/** Per bucket: 1 when its day start is a safe integer (AFTER and BEFORE possible). */
let baseSafe = new Uint8Array(64);
/** Per column: how many buckets hold it; its bucket indices at present[c × rows …]. */
let colCount = new Int32Array(64);
let present = new Int32Array(256);
/** Per column: 1 when all its values are numbers (a later column may be a COPY of it). */
let colNumbers = new Uint8Array(64);
/** Per column: 1 when written with a bitmap of its own (a later column may say IN_SAME). */
let colBitmap = new Uint8Array(64);
/** Per value of the column being written: its cheapest kind (MIXED columns) and its packed integer. */
let kinds = new Uint8Array(64);
let raws = new Float64Array(64);
/** The Refs writeValue takes, its base and ref set from the arrays above for each value. */
const refs = { base: 0, ref: 0 };

/** Starts a table of `nRows` buckets (days ascending) and `nCols` columns, all cells empty. */
export function startTable(days: ArrayLike<number>, nRows: number, nCols: number): void {
  clearTable();
  rows = nRows;
  cols = nCols;
  const size = nRows * nCols;
  if (base.length < nRows) {
    base = new Float64Array(nRows * 2);
    ref = new Float64Array(nRows * 2);
    baseSafe = new Uint8Array(nRows * 2);
    kinds = new Uint8Array(nRows * 2);
    raws = new Float64Array(nRows * 2);
  }
  if (colCount.length < nCols) {
    colCount = new Int32Array(nCols * 2);
    colNumbers = new Uint8Array(nCols * 2);
    colBitmap = new Uint8Array(nCols * 2);
  }
  if (present.length < size) {
    present = new Int32Array(size * 2);
    tags = new Uint8Array(size * 2);
    nums = new Float64Array(size * 2);
  }
  while (cells.length < size) cells.push(undefined);
  colCount.fill(0, 0, nCols);
  for (let i = 0; i < nRows; i++) {
    base[i] = ref[i] = days[i]! * DAY_MS;
    baseSafe[i] = isSafeInt(base[i]!) ? 1 : 0;
  }
}

/** Drops the table's references to the last state's values. */
export function clearTable(): void {
  for (let k = 0; k < placed; k++) cells[filled[k]!] = undefined;
  placed = 0;
}

/**
 * guess[k]: the column of the k-th key of the last bucket placed. Buckets of one customer mostly hold
 * the same slots in the same order (the same kinds of events), so comparing the key with that
 * column's slot (`slots[guess[k]] === slot`: a pointer compare for internalized strings) usually
 * spares the slot → column map lookup. A wrong guess only costs the lookup.
 */
const guess = new Int32Array(64);

/** The slots as internalized strings (property keys are; a for…in key then compares by pointer). */
const internalizedSlots = new WeakMap<readonly string[], readonly string[]>();

export function internalized(slots: readonly string[]): readonly string[] {
  let out = internalizedSlots.get(slots);
  if (out === undefined) {
    out = slots.map((slot) => Object.keys({ [slot]: 0 })[0]!);
    internalizedSlots.set(slots, out);
  }
  return out;
}

/**
 * Places bucket `row`'s values into their columns (index: slot → column, slots: column → slot, the
 * same mapping). False, placing nothing more, when the bucket holds a slot the index lacks (the caller
 * then writes a slot dictionary).
 */
export function placeBucket(row: number, bucket: SlotValues, index: ReadonlyMap<string, number>, slots: readonly string[]): boolean {
  const cellsL = cells, colCountL = colCount, presentL = present, tagsL = tags, numsL = nums, guessL = guess;
  const n = rows;
  let k = 0;
  for (const slot in bucket) {
    let c: number | undefined = guessL[k & 63]!;
    if (slots[c] !== slot) {
      c = index.get(slot);
      if (c === undefined) return false;
      guessL[k & 63] = c;
    }
    k++;
    const at = c * n + row;
    const v = bucket[slot]!;
    // Buckets are placed in day order, so each column's bucket indices come out ascending: the
    // column pass then visits only the cells that hold a value.
    presentL[c * n + colCountL[c]!++] = row;
    if (typeof v === 'number') {
      numsL[at] = v;
      tagsL[at] = 1;
      continue;
    }
    tagsL[at] = 2;
    cellsL[at] = v;
    if (placed === filled.length) {
      const more = new Int32Array(placed * 2);
      more.set(filled);
      filled = more;
    }
    filled[placed++] = at;
  }
  return true;
}

/** The first 'last' value of column c in day order (what a version-2 archive row may repeat, see firstLastValues). */
export function firstLastOf(c: number): LastSeen {
  const off = c * rows;
  const count = colCount[c]!;
  for (let q = 0; q < count; q++) {
    const at = off + present[off + q]!;
    if (tags[at] !== 2) continue;
    const v = cells[at] as readonly unknown[];
    // A 'last' is [time, value]; bit sets always have BITSET_WORDS (8) words.
    if (v.length === 2) return { has: true, value: v[1] as Scalar };
  }
  return { has: false, value: null };
}

/** Object.is for doubles: -0 and 0 differ, NaN equals NaN. */
function objectIs(a: number, b: number): boolean {
  return a === b ? a !== 0 || 1 / a === 1 / b : a !== a && b !== b;
}

/** Whether columns j and c (both holding `count` values) are in the same buckets. */
function samePresence(j: number, c: number, count: number): boolean {
  if (count === rows) return true;
  const a = j * rows;
  const b = c * rows;
  for (let k = 0; k < count; k++) if (present[a + k] !== present[b + k]) return false;
  return true;
}

/** Whether columns j and c, in the same buckets, hold the same numbers (Object.is: -0 and NaN as themselves). */
function sameValues(j: number, c: number, count: number): boolean {
  const p = c * rows;
  const a = j * rows;
  const b = c * rows;
  for (let k = 0; k < count; k++) {
    const i = present[p + k]!;
    if (!objectIs(nums[a + i]!, nums[b + i]!)) return false;
  }
  return true;
}

// ---------------------------------------------------------------- writing

/**
 * The table's columns, in order: which buckets hold the slot (none, all, a bitmap over the buckets, or
 * the buckets of an earlier column), then its values in day order, with one kind for the column when
 * they share it — or, for a column of numbers equal to an earlier one, only a reference to it. The
 * choices are those of bucket-columns.ts's format: one kind for the column when some kind fits every
 * value at no more than a kind byte per value would cost (the last such kind on a tie), else each
 * value its cheapest kind (the first on a tie) after a kind byte; a packable kind bit-packed when
 * strictly cheaper. Version 1: header kind × 3 + presence and none of version 2's references.
 */
export function writeTableColumns(w: ByteWriter, v2: boolean, what: string): void {
  // Split into small functions: one function holding every pass exhausted TurboFan's inlining budget,
  // so vlen, isSafeInt and the writer's varint calls stayed real calls for every value.
  const colCountL = colCount, colNumbersL = colNumbers, colBitmapL = colBitmap, s = sums;
  const n = rows;
  for (let c = 0; c < cols; c++) {
    const count = colCountL[c]!;
    colNumbersL[c] = 0;
    colBitmapL[c] = 0;
    if (count === 0) {
      w.uvarint(v2 ? SLOT_UINT * 4 + IN_NONE : SLOT_UINT * 3 + IN_NONE);
      continue;
    }
    const off = c * n;
    const presence = count === n ? IN_ALL : IN_BITMAP;
    if (allNumbersIn(off, count)) {
      colNumbersL[c] = 1;
      if (v2) {
        const copyOf = copyOfColumn(c, count);
        if (copyOf >= 0) {
          // Not even the refs move: the reader copies the values without reading any (nor are their
          // costs computed: a COPY is written whatever they are).
          w.uvarint(COPY * 4);
          w.uvarint(c - copyOf);
          continue;
        }
      }
    }
    columnCosts(off, count, v2);
    let kind = MIXED;
    let cost = s[S_MIXED]!;
    for (let k = 0; k < 8; k++) {
      if (s[k]! <= cost) {
        kind = k;
        cost = s[k]!;
      }
    }
    let width = 0;
    if (v2) {
      // PACKABLE in its order: UINT, AFTER, BEFORE, NEAR.
      for (let p = 0; p < 4; p++) {
        const k = p === 3 ? SLOT_NEAR : p;
        if (!(s[k]! < INF)) continue;
        const bits = bitWidth(s[S_MAX + p]!);
        const packedCost = 1 + Math.ceil((count * bits) / 8);
        if (bits <= MAX_WIDTH && packedCost < cost) {
          kind = PACKED + k;
          cost = packedCost;
          width = bits;
        }
      }
    }
    // The latest earlier column written with its own bitmap of the same buckets.
    let same = -1;
    if (presence === IN_BITMAP && v2) {
      for (let e = c - 1; e >= 0; e--) {
        if (colBitmapL[e] === 1 && colCountL[e] === count && samePresence(e, c, count)) {
          same = e;
          break;
        }
      }
    }
    if (same >= 0) {
      w.uvarint(kind * 4 + IN_SAME);
      w.uvarint(c - same);
    } else {
      w.uvarint(v2 ? kind * 4 + presence : kind * 3 + presence);
      if (presence === IN_BITMAP) writeBitmap(w, off, count, n);
    }
    if (presence === IN_BITMAP) colBitmapL[c] = 1;
    if (kind >= PACKED) writePacked(w, off, count, kind - PACKED, width);
    else writeColumnValues(w, off, count, kind, v2, what);
  }
}

/** sums[k]: column cost in kind k (Infinity when a value cannot take it); then the packable kinds' largest integers (UINT, AFTER, BEFORE, NEAR); then the mixed form's cost. */
const sums = new Float64Array(13);
const S_MAX = 8;
const S_MIXED = 12;

/**
 * One column's costs in every kind (into sums) and each value's cheapest kind (into kinds). fillCosts and cheapest (slot-values.ts), in locals. The common value, an
 * integer of magnitude below SMALL (not -0), takes the short way to the same costs.
 */
function columnCosts(off: number, count: number, v2: boolean): void {
  const cellsL = cells, tagsL = tags, numsL = nums, presentL = present, baseL = base, refL = ref, kindsL = kinds, baseSafeL = baseSafe;
  let t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0, t6 = 0, t7 = 0;
  let m0 = 0, m1 = 0, m2 = 0, m7 = 0;
  let mixed = 0;
  for (let q = 0; q < count; q++) {
    const i = presentL[off + q]!;
    let best: number;
    if (tagsL[off + i] === 1) {
      const v = numsL[off + i]!;
      let c3: number;
      let c0 = INF, c1 = INF, c2 = INF, c7 = INF;
      const small = v === Math.floor(v) && v < SMALL && v > -SMALL && (v !== 0 || 1 / v > 0);
      if (small || isSafeInt(v)) {
        c3 = small ? vlen(v < 0 ? -8 * v - 4 : 8 * v) : numCost(v);
        if (v >= 0 && v < SMALL) c0 = vlen(v);
        const b = baseL[i]!;
        if (baseSafeL[i] === 1) {
          if (v >= b && v - b < SMALL) c1 = vlen(v - b);
          else if (v < b && b - v < SMALL) c2 = vlen(b - v);
        }
        const r = refL[i]!;
        if (isSafeInt(r) && Math.abs(v - r) < SMALL) c7 = vlen(zigzag(v - r));
        if (v2) {
          if (c0 < INF && v > m0) m0 = v;
          if (c1 < INF && v - b > m1) m1 = v - b;
          if (c2 < INF && b - v > m2) m2 = b - v;
          if (c7 < INF && zigzag(v - r) > m7) m7 = zigzag(v - r);
        }
      } else c3 = numCost(v);
      best = SLOT_UINT;
      let bc = c0;
      if (c1 < bc) (best = SLOT_AFTER), (bc = c1);
      if (c2 < bc) (best = SLOT_BEFORE), (bc = c2);
      if (c3 < bc) (best = SLOT_NUMBER), (bc = c3);
      if (c7 < bc) (best = SLOT_NEAR), (bc = c7);
      mixed += 1 + bc;
      t0 += c0;
      t1 += c1;
      t2 += c2;
      t3 += c3;
      t4 = INF;
      t5 = INF;
      t6 = INF;
      t7 += c7;
    } else {
      const v = cellsL[off + i] as readonly unknown[];
      t0 = t1 = t2 = t3 = t7 = INF;
      if (v.length === 2) {
        // [time, value] of a 'last' slot; Object.is: -0 must come back as -0.
        const t = v[0] as number;
        const r = refL[i]!;
        best = Object.is(t - r + r, t) ? SLOT_LAST : SLOT_LAST_ABS;
        t6 = INF;
        if (best === SLOT_LAST) t5 = INF;
        else t4 = INF;
      } else {
        best = SLOT_BITS;
        t4 = t5 = INF;
      }
      mixed += 1;
    }
    kindsL[q] = best;
  }
  const s = sums;
  s[0] = t0;
  s[1] = t1;
  s[2] = t2;
  s[3] = t3;
  s[4] = t4;
  s[5] = t5;
  s[6] = t6;
  s[7] = t7;
  s[S_MAX] = m0;
  s[S_MAX + 1] = m1;
  s[S_MAX + 2] = m2;
  s[S_MAX + 3] = m7;
  s[S_MIXED] = mixed;
}

/** Whether every value of the column at `off` is a number. */
function allNumbersIn(off: number, count: number): boolean {
  const presentL = present, tagsL = tags;
  for (let q = 0; q < count; q++) if (tagsL[off + presentL[off + q]!] !== 1) return false;
  return true;
}

/** The first earlier column of the same numbers in the same buckets as column c (all numbers), or -1. */
function copyOfColumn(c: number, count: number): number {
  const colNumbersL = colNumbers, colCountL = colCount;
  for (let e = 0; e < c; e++) if (colNumbersL[e] === 1 && colCountL[e] === count && samePresence(e, c, count) && sameValues(e, c, count)) return e;
  return -1;
}

/** Which of the n buckets hold the column: one bit per bucket, LSB first. */
function writeBitmap(w: ByteWriter, off: number, count: number, n: number): void {
  const presentL = present;
  let k = 0;
  for (let at = 0; at < n; at += 8) {
    let byte = 0;
    for (; k < count && presentL[off + k]! < at + 8; k++) byte |= 1 << (presentL[off + k]! & 7);
    w.u8(byte);
  }
}

/** A packed column of kind k: its width, then each value's integer in `width` bits; AFTER, BEFORE and NEAR move the refs. */
function writePacked(w: ByteWriter, off: number, count: number, k: number, width: number): void {
  const presentL = present, numsL = nums, baseL = base, refL = ref, rawsL = raws;
  for (let q = 0; q < count; q++) {
    const i = presentL[off + q]!;
    const v = numsL[off + i]!;
    rawsL[q] = k === SLOT_UINT ? v : k === SLOT_AFTER ? v - baseL[i]! : k === SLOT_BEFORE ? baseL[i]! - v : zigzag(v - refL[i]!);
    if (k !== SLOT_UINT) refL[i] = v;
  }
  w.u8(width);
  w.packed(rawsL, count, width);
}

/** The column's previous 'last' value (version 2), reset for each column: one object, not one per column. */
const columnSeen: LastSeen = { has: false, value: null };

/** A column's values in `kind` (MIXED: each after its kind byte from kinds), moving the refs as the reader will. */
function writeColumnValues(w: ByteWriter, off: number, count: number, kind: number, v2: boolean, what: string): void {
  const cellsL = cells, tagsL = tags, numsL = nums, presentL = present, baseL = base, refL = ref, kindsL = kinds;
  let seen: LastSeen | undefined;
  if (v2) {
    seen = columnSeen;
    seen.has = false;
    seen.value = null;
  }
  for (let q = 0; q < count; q++) {
    const i = presentL[off + q]!;
    const k = kind === MIXED ? kindsL[q]! : kind;
    if (kind === MIXED) w.u8(k);
    const at = off + i;
    // writeValue's number kinds inline (most values); the others through it.
    if (k === SLOT_UINT) w.uvarint(numsL[at]!);
    else if (k === SLOT_AFTER) {
      const v = numsL[at]!;
      w.uvarint(v - baseL[i]!);
      refL[i] = v;
    } else if (k === SLOT_NEAR) {
      const v = numsL[at]!;
      w.svarint(v - refL[i]!);
      refL[i] = v;
    } else {
      refs.base = baseL[i]!;
      refs.ref = refL[i]!;
      writeValue(w, k, tagsL[at] === 1 ? numsL[at]! : cellsL[at]!, refs, what, seen);
      refL[i] = refs.ref;
    }
  }
}
