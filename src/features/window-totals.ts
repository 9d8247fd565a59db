// Totals of every slot over every window length, per "level": windows are nested (7d ⊂ 30d ⊂ 90d ⊂
// all time), so each day bucket belongs to the smallest window that holds it, and a window's total
// combines the levels up to it (an offset window or a trend period combines the levels between its
// two edges). A level is a set of whole UTC days: as of `asOf`, with anchor A = ceil(asOf / day),
// level k holds the days [A − edge_k, A − edge_{k−1} − 1] (edge_{−1} = 0) and the last level holds
// the older days and the archive; days from A on are not read (point-in-time).
//
// Two ways to fill the levels, with identical values:
// - load(): one pass over all the buckets (the reference; O(buckets));
// - incrementally, for the customer a WindowTotals is attached to (see attachTo): an event's ops add
//   into their day's level (merged), moving the anchor moves the days that cross an edge from one
//   level to the next (advance), so an event costs O(ops) plus O(slots) per day the anchor moves.
//   Where a subtraction cannot be exact the cell is recomputed from its days alone (clean): sums
//   that are not safe integers (float addition depends on order), a maximum, minimum or latest value
//   that leaves its level, a distinct bit set that loses a day.
import { DAY_MS, type Scalar } from '../events/activity-event.js';
import type { CustomerState } from '../state/customer-state.js';
import { BITSET_BITS, BITSET_WORDS, estimateDistinct, popcount, setBucketListener, type BucketListener, type SlotMerge, type SlotOp, type SlotValue, type SlotValues } from '../state/slots.js';

const ADD = 0;
const MAX = 1;
const MIN = 2;
const LAST = 3;
const BITS = 4;
const CODES: Readonly<Record<SlotMerge, number>> = { add: ADD, max: MAX, min: MIN, last: LAST, bits: BITS };

/** Cell flags: recompute before reading; a sum that must be recomputed from its days each time. */
const DIRTY = 1;
const INEXACT = 2;
/** A bit-set cell whose per-bit day counts overflowed: a day leaving it makes it dirty instead. */
const UNCOUNTED = 4;

/** Below this, sums of integers are exact in any order (every partial sum is a safe integer). */
const EXACT_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * estimateDistinct's answer by the number of zero bits of the set (it depends on nothing else), taken
 * from estimateDistinct itself for each count: distinct() counts the zeros of the OR of its levels
 * word by word and looks the estimate up, with no scratch set and no logarithm per row.
 */
if (BITSET_WORDS !== 8) throw new Error('WindowTotals.distinct() unions eight words: update it with BITSET_WORDS');
const DISTINCT_BY_ZEROS: Float64Array = (() => {
  const table = new Float64Array(BITSET_BITS + 1);
  const words = new Uint32Array(BITSET_WORDS);
  for (let zeros = 0; zeros <= BITSET_BITS; zeros++) {
    words.fill(0);
    for (let bit = 0; bit < BITSET_BITS - zeros; bit++) words[bit >>> 5] = (words[bit >>> 5]! | (1 << (bit & 31))) >>> 0;
    table[zeros] = estimateDistinct(words);
  }
  return table;
})();

/** What every WindowTotals of one compiled spec shares: slot ids, merges and window edges. */
class Shape {
  readonly slotIndex: ReadonlyMap<string, number>;
  readonly ids: readonly string[];
  readonly codes: Uint8Array;
  /**
   * Each kind keeps only the arrays it reads: sums, maxima and minima a number (sums first, which also
   * keep active days and an exactness bound), latest values a time and a value, bit sets 8 words.
   * shift[i] turns a cell (slot i × levels + level) into the index in its kind's arrays.
   */
  readonly shift: Int32Array;
  readonly adds: number;
  readonly numbers: number;
  readonly lasts: number;
  readonly bitSlots: number;
  readonly windowIndex: ReadonlyMap<number, number>;
  readonly levels: number;
  readonly maxEdge: number;
  /**
   * Per slot, 1 if it lives in the last level only: a maximum, minimum or latest value that no window
   * reads (recency, profile values), so a day crossing an edge never moves it and never makes it dirty.
   */
  readonly flat: Uint8Array;

  constructor(slots: ReadonlyMap<string, SlotMerge>, readonly edges: readonly number[], windowed?: ReadonlySet<string>) {
    this.ids = [...slots.keys()];
    this.slotIndex = new Map(this.ids.map((id, i) => [id, i]));
    this.codes = Uint8Array.from(this.ids, (id) => CODES[slots.get(id)!]);
    this.windowIndex = new Map(edges.map((d, k) => [d, k]));
    this.levels = edges.length + 1;
    const count = (...codes: number[]) => this.codes.filter((c) => codes.includes(c)).length;
    this.adds = count(ADD);
    this.numbers = count(ADD, MAX, MIN);
    this.lasts = count(LAST);
    this.bitSlots = count(BITS);
    const next = [0, this.adds, this.adds, 0, 0]; // next ordinal per kind code: sums, then maxima and minima share one run
    this.shift = Int32Array.from(this.codes, (c, i) => {
      const ord = c === MIN ? next[MAX]!++ : next[c]!++;
      return (ord - i) * this.levels;
    });
    this.maxEdge = edges.length === 0 ? 0 : edges[edges.length - 1]!;
    // Sums and bit sets stay per level even then: a float sum's value depends on how it is split.
    this.flat = Uint8Array.from(this.ids, (id, i) => (windowed !== undefined && !windowed.has(id) && this.codes[i] !== ADD && this.codes[i] !== BITS ? 1 : 0));
  }
}

export class WindowTotals implements BucketListener {
  private readonly shape: Shape;
  private readonly levels: number;
  /** ceil(asOf / day) of the levels as filled: days from here on are not in them. */
  private anchor = Number.NaN;
  private readonly num_: Float64Array;
  /** Per cell, how many buckets (the archive counts as one) of the level hold the slot. */
  private readonly present: Uint32Array;
  /** Per cell, the day buckets in which an 'add' slot is non-zero: exact active days (a bucket is one UTC day). */
  private readonly days: Uint32Array;
  /** Per 'add' cell, the sum of |value| folded in since the cell was last empty: the exactness bound. */
  private readonly absSum: Float64Array;
  private readonly flags: Uint8Array;
  private dirty = false;
  private readonly lastT: Float64Array;
  private readonly lastV: Scalar[];
  private readonly bits: Uint32Array;
  /**
   * Per bit-set cell of every level but the last (days never leave the last), per bit, how many of
   * the level's days have it (saturating at 255, then UNCOUNTED): a day leaving a level clears the
   * bits no other day of it has, so a distinct count costs no pass over the level's days.
   */
  private readonly bitDays: Uint8Array;

  /** `windowed`: the slots some window reads; the others (max, min, last) are kept over all time only. Without it, every slot per level. */
  constructor(slots: ReadonlyMap<string, SlotMerge> | Shape, windowDays: readonly number[] = [], windowed?: ReadonlySet<string>) {
    this.shape = slots instanceof Shape ? slots : new Shape(slots, windowDays, windowed);
    this.levels = this.shape.levels;
    const { levels, ids, adds, numbers, lasts, bitSlots } = this.shape;
    this.present = new Uint32Array(ids.length * levels);
    this.flags = new Uint8Array(ids.length * levels);
    this.num_ = new Float64Array(numbers * levels);
    this.days = new Uint32Array(adds * levels);
    this.absSum = new Float64Array(adds * levels);
    this.lastT = new Float64Array(lasts * levels);
    this.lastV = new Array<Scalar>(lasts * levels).fill(null);
    this.bits = new Uint32Array(bitSlots * levels * BITSET_WORDS);
    this.bitDays = new Uint8Array(bitSlots * (levels - 1) * BITSET_BITS);
  }

  /** Loads the state's buckets that start before asOf, in one pass (the reference). */
  load(state: Readonly<CustomerState>, asOf: number): void {
    this.rebuild(state, Math.ceil(asOf / DAY_MS));
  }

  /**
   * Brings the levels to `asOf` for a state this instance follows: moves the days that cross an edge
   * and recomputes the cells that cannot be moved exactly. False when asOf is before the anchor (an
   * out-of-order read): the caller then uses a full pass, and this instance stays as it is.
   */
  advance(state: Readonly<CustomerState>, asOf: number): boolean {
    const to = Math.ceil(asOf / DAY_MS);
    if (to < this.anchor) return false;
    if (to > this.anchor) {
      // A move past more days than a rebuild reads (edges × days moved > the longest window) rebuilds.
      if ((to - this.anchor) * Math.max(1, this.shape.edges.length) > this.shape.maxEdge) this.rebuild(state, to);
      else this.moveAnchor(state, to);
    }
    if (this.dirty) this.clean(state);
    return true;
  }

  /** Attaches this instance to a state: applyDelta, expiry and cloneState keep it in step from now on. */
  attachTo(state: Readonly<CustomerState>): void {
    setBucketListener(state, this);
  }

  /** Whether this instance was built for the same spec (slots and edges) as `other`. */
  sameShape(other: WindowTotals): boolean {
    return this.shape === other.shape;
  }

  /** An empty instance of the same shape (shares the slot and edge tables). */
  sibling(): WindowTotals {
    return new WindowTotals(this.shape);
  }

  // ---- BucketListener: the state transition reports every bucket change --------------------------

  merged(day: number, op: SlotOp, before: SlotValue | undefined, after: SlotValue): void {
    if (!(day < this.anchor)) return; // a day at or after the anchor is read when the anchor passes it
    const i = this.shape.slotIndex.get(op.slot);
    if (i === undefined) return;
    const cell = i * this.levels + (this.shape.flat[i] === 1 ? this.levels - 1 : this.levelOf(day));
    const at = cell + this.shape.shift[i]!;
    const fresh = this.present[cell] === 0;
    if (before === undefined) this.present[cell]!++;
    switch (this.shape.codes[i]) {
      case ADD: {
        const v = op.value as number;
        if (fresh) this.resetCell(i, cell);
        this.num_[at] = this.num_[at]! + v;
        this.trackExact(cell, at, v);
        const wasActive = before !== undefined && before !== 0;
        const isActive = after !== 0;
        if (isActive !== wasActive) this.days[at] = this.days[at]! + (isActive ? 1 : -1);
        break;
      }
      case MAX:
        this.num_[at] = fresh ? (op.value as number) : Math.max(this.num_[at]!, op.value as number);
        break;
      case MIN:
        this.num_[at] = fresh ? (op.value as number) : Math.min(this.num_[at]!, op.value as number);
        break;
      case LAST: {
        const [t, v] = op.value as readonly [number, Scalar];
        if (fresh || t > this.lastT[at]!) {
          this.lastT[at] = t;
          this.lastV[at] = v;
        }
        break;
      }
      case BITS: {
        const bit = op.value as number;
        const base = at * BITSET_WORDS;
        if (fresh) this.resetBits(cell, at);
        this.bits[base + (bit >>> 5)] = (this.bits[base + (bit >>> 5)]! | (1 << (bit & 31))) >>> 0;
        // One more day of the level has the bit, unless this day had it already.
        const had = before !== undefined && (((before as readonly number[])[bit >>> 5] ?? 0) & (1 << (bit & 31))) !== 0;
        if (!had) this.countBit(cell, at, bit);
        break;
      }
    }
  }

  expiring(day: number): boolean {
    // A day already in the last level stays there inside the archive; any other would leave a window.
    return day < this.anchor - this.shape.maxEdge;
  }

  // ---- reads --------------------------------------------------------------------------------------

  /** Index of a slot, for the accessors below (resolve once, at compile time). */
  index(slot: string): number {
    const i = this.shape.slotIndex.get(slot);
    if (i === undefined) throw new Error(`unknown slot ${slot}`);
    return i;
  }

  /** Level of a window length; `allTime` is the last level. */
  level(days: number): number {
    const k = this.shape.windowIndex.get(days);
    if (k === undefined) throw new Error(`no window of ${days} days`);
    return k;
  }

  get allTime(): number {
    return this.levels - 1;
  }

  /** add/max/min total over levels from..upTo; NaN when no bucket in range has the slot. */
  num(i: number, upTo: number, from = 0): number {
    // The first present level starts the fold (its value as is, as the reference's order gives it).
    const code = this.shape.codes[i]!;
    const base = i * this.levels;
    const shift = this.shape.shift[i]!;
    const present = this.present;
    let k = from;
    while (k <= upTo && present[base + k] === 0) k++;
    if (k > upTo) return Number.NaN;
    let acc = this.num_[base + k + shift]!;
    for (k++; k <= upTo; k++) {
      if (present[base + k] === 0) continue;
      const x = this.num_[base + k + shift]!;
      acc = code === ADD ? acc + x : code === MAX ? Math.max(acc, x) : Math.min(acc, x);
    }
    return acc;
  }

  /**
   * Day buckets over levels from..upTo in which an 'add' slot is non-zero. Exact for window levels; the
   * last level also holds the archive, which compileSpec never asks about (it is not a day).
   */
  activeDays(i: number, upTo: number, from = 0): number {
    let n = 0;
    if (this.shape.codes[i] !== ADD) return 0;
    for (let k = from; k <= upTo; k++) n += this.days[i * this.levels + k + this.shape.shift[i]!]!;
    return n;
  }

  /** Event time of the latest 'last' value over levels 0..upTo (NaN if none); lastValue gives the value. */
  lastTime(i: number, upTo: number): number {
    const cell = this.lastCell(i, upTo);
    return cell < 0 ? Number.NaN : this.lastT[cell + this.shape.shift[i]!]!;
  }

  lastValue(i: number, upTo: number): Scalar | undefined {
    const cell = this.lastCell(i, upTo);
    return cell < 0 ? undefined : this.lastV[cell + this.shape.shift[i]!];
  }

  /**
   * The value of the latest 'last' value of several slots, each over its levels 0..level (the first
   * slot wins a tie of event times), null if none: lastTime and lastValue of each slot in one pass.
   */
  latest(refs: readonly { readonly i: number; readonly level: number }[]): Scalar {
    let bestAt = -1;
    let bestT = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < refs.length; k++) {
      const r = refs[k]!;
      const cell = this.lastCell(r.i, r.level);
      if (cell < 0) continue;
      const at = cell + this.shape.shift[r.i]!;
      const t = this.lastT[at]!;
      if (t > bestT) {
        bestT = t;
        bestAt = at;
      }
    }
    return bestAt < 0 ? null : (this.lastV[bestAt] ?? null);
  }

  /** Distinct-count estimate of a bit-set slot over levels from..upTo (0 if none). */
  distinct(i: number, upTo: number, from = 0): number {
    const base = i * this.levels;
    const shift = this.shape.shift[i]!;
    const present = this.present;
    const bits = this.bits;
    // The eight words of the union in locals (BITSET_WORDS, checked below): one presence check per level.
    let w0 = 0;
    let w1 = 0;
    let w2 = 0;
    let w3 = 0;
    let w4 = 0;
    let w5 = 0;
    let w6 = 0;
    let w7 = 0;
    for (let k = from; k <= upTo; k++) {
      if (present[base + k] === 0) continue;
      const at = (base + k + shift) * BITSET_WORDS;
      w0 |= bits[at]!;
      w1 |= bits[at + 1]!;
      w2 |= bits[at + 2]!;
      w3 |= bits[at + 3]!;
      w4 |= bits[at + 4]!;
      w5 |= bits[at + 5]!;
      w6 |= bits[at + 6]!;
      w7 |= bits[at + 7]!;
    }
    const set = popcount(w0) + popcount(w1) + popcount(w2) + popcount(w3) + popcount(w4) + popcount(w5) + popcount(w6) + popcount(w7);
    return DISTINCT_BY_ZEROS[BITSET_BITS - set]!;
  }

  private lastCell(i: number, upTo: number): number {
    if (this.shape.flat[i] === 1) {
      // Kept in the all-time level only (see Shape.flat), which every read of it spans.
      const cell = i * this.levels + this.levels - 1;
      return this.present[cell] === 0 ? -1 : cell;
    }
    const shift = this.shape.shift[i]!;
    let best = -1;
    for (let k = 0; k <= upTo; k++) {
      const cell = i * this.levels + k;
      if (this.present[cell] === 0) continue;
      if (best < 0 || this.lastT[cell + shift]! > this.lastT[best + shift]!) best = cell;
    }
    return best;
  }

  // ---- filling ------------------------------------------------------------------------------------

  private levelOf(day: number): number {
    return this.levelAt(day, this.anchor);
  }

  private levelAt(day: number, anchor: number): number {
    const edges = this.shape.edges;
    for (let k = 0; k < edges.length; k++) if (day >= anchor - edges[k]!) return k;
    return this.levels - 1;
  }

  private rebuild(state: Readonly<CustomerState>, anchor: number): void {
    this.anchor = anchor;
    this.present.fill(0);
    this.days.fill(0);
    this.flags.fill(0);
    this.dirty = false;
    const last = this.levels - 1;
    this.addBucket(state.archive, last);
    for (const key in state.buckets) {
      const day = Number(key);
      if (day >= anchor) continue;
      this.addBucket(state.buckets[key]!, this.levelOf(day));
    }
  }

  /**
   * Moves the anchor forward: each day whose level changes (it crossed one or more edges, or it is
   * new at [A, A' − 1]) leaves its old level and joins its new one, once. The days that cross edge k
   * are [A − edge_k, A' − edge_k − 1]; walking the edges from the outermost in visits them in
   * ascending order, each once.
   */
  private moveAnchor(state: Readonly<CustomerState>, to: number): void {
    const from = this.anchor;
    const edges = this.shape.edges;
    let next = Number.NEGATIVE_INFINITY;
    for (let k = edges.length - 1; k >= -1; k--) {
      const end = k < 0 ? to : to - edges[k]!;
      for (let day = Math.max(k < 0 ? from : from - edges[k]!, next); day < end; day++) {
        const bucket = state.buckets[day];
        if (bucket === undefined) continue;
        const was = day < from ? this.levelAt(day, from) : -1;
        const now = this.levelAt(day, to);
        if (was === now) continue;
        if (was >= 0) this.moveBucket(bucket, was, now);
        else this.addBucket(bucket, now);
      }
      next = Math.max(next, end);
    }
    this.anchor = to;
  }

  private resetCell(i: number, cell: number): void {
    this.flags[cell] = 0;
    if (this.shape.codes[i] !== ADD) return;
    const at = cell + this.shape.shift[i]!;
    this.num_[at] = 0;
    this.days[at] = 0;
    this.absSum[at] = 0;
  }

  /** Marks an 'add' cell inexact once a value is not a safe integer or the sums could leave that range. */
  private trackExact(cell: number, at: number, v: number): void {
    const abs = this.absSum[at]! + Math.abs(v);
    this.absSum[at] = abs;
    if (!Number.isSafeInteger(v) || abs > EXACT_LIMIT) {
      this.flags[cell] = this.flags[cell]! | INEXACT | DIRTY;
      this.dirty = true;
    }
  }

  /** Folds a bucket into a level, in the reference's order and with its rules (one bucket = one day). */
  private addBucket(values: Readonly<SlotValues>, level: number): void {
    const { slotIndex, flat } = this.shape;
    for (const slot in values) {
      const i = slotIndex.get(slot);
      if (i === undefined) continue;
      this.enter(i, i * this.levels + (flat[i] === 1 ? this.levels - 1 : level), values[slot]!);
    }
  }

  /** Folds one day's value of slot i into a cell (the twin of leave). */
  private enter(i: number, cell: number, v: SlotValue): void {
    const first = this.present[cell] === 0;
    this.present[cell] = this.present[cell]! + 1;
    this.foldValue(i, cell, v, first);
    if (this.shape.codes[i] === ADD) this.trackExact(cell, cell + this.shape.shift[i]!, v as number);
  }

  private foldValue(i: number, cell: number, v: SlotValue, first: boolean): void {
    const at = cell + this.shape.shift[i]!;
    switch (this.shape.codes[i]) {
      case ADD:
        if (first) this.resetCell(i, cell);
        this.num_[at] = (first ? 0 : this.num_[at]!) + (v as number);
        if (v !== 0) this.days[at]!++;
        break;
      case MAX:
        this.num_[at] = first ? (v as number) : Math.max(this.num_[at]!, v as number);
        break;
      case MIN:
        this.num_[at] = first ? (v as number) : Math.min(this.num_[at]!, v as number);
        break;
      case LAST: {
        const t = (v as readonly [number, Scalar])[0];
        if (first || t > this.lastT[at]!) {
          this.lastT[at] = t;
          this.lastV[at] = (v as readonly [number, Scalar])[1];
        }
        break;
      }
      case BITS: {
        const words = v as readonly number[];
        const base = at * BITSET_WORDS;
        if (first) this.resetBits(cell, at);
        // countBit's rule for each set bit, with the cell's day-count offset worked out once (it divides).
        let counts = (this.flags[cell]! & UNCOUNTED) === 0 ? this.bitDaysBase(at) : -1;
        for (let w = 0; w < BITSET_WORDS; w++) {
          const x = words[w] ?? 0;
          this.bits[base + w]! |= x;
          for (let rest = x; counts >= 0 && rest !== 0; rest &= rest - 1) {
            const slot = counts + w * 32 + 31 - Math.clz32(rest & -rest);
            if (this.bitDays[slot] === 255) {
              this.flags[cell] = this.flags[cell]! | UNCOUNTED; // overflowed: no day is counted from here on
              counts = -1;
            } else this.bitDays[slot] = this.bitDays[slot]! + 1;
          }
        }
        break;
      }
    }
  }

  /**
   * Moves a day from one level to another: per slot, takes it out of the old level (exact for integer
   * sums; otherwise the cell is recomputed from its days) and folds it into the new one, in one pass
   * over the bucket (a day crosses an edge each time a customer's anchor moves). Each slot's steps
   * touch only that slot's cells, so this is a pass of removals and then one of additions, slot by
   * slot. All-time-only slots stay where they are.
   */
  private moveBucket(values: Readonly<SlotValues>, from: number, to: number): void {
    const { slotIndex, flat } = this.shape;
    for (const slot in values) {
      const i = slotIndex.get(slot);
      if (i === undefined || flat[i] === 1) continue;
      const v = values[slot]!;
      this.leave(i, i * this.levels + from, v);
      this.enter(i, i * this.levels + to, v);
    }
  }

  /** Takes one day's value of slot i out of a cell: exact for integer sums; otherwise the cell is recomputed from its days. */
  private leave(i: number, cell: number, v: SlotValue): void {
    const left = --this.present[cell]!;
    if (left === 0) {
      this.resetCell(i, cell);
      return;
    }
    const at = cell + this.shape.shift[i]!;
    let exact: boolean;
    switch (this.shape.codes[i]) {
      case ADD:
        exact = (this.flags[cell]! & INEXACT) === 0;
        if (exact) {
          this.num_[at] = this.num_[at]! - (v as number);
          if (v !== 0) this.days[at]!--;
        }
        break;
      case MAX:
      case MIN:
        exact = v !== this.num_[at];
        break;
      case LAST:
        exact = (v as readonly [number, Scalar])[0] !== this.lastT[at];
        break;
      default:
        // A bit set cannot be un-OR'd, but a bit no other day of the level has can be cleared.
        exact = (this.flags[cell]! & UNCOUNTED) === 0;
        if (exact) this.uncountDay(cell, at, v as readonly number[]);
    }
    if (!exact) {
      this.flags[cell] = this.flags[cell]! | DIRTY;
      this.dirty = true;
    }
  }

  /** Empties a bit-set cell: no bit, no day counted. */
  private resetBits(cell: number, at: number): void {
    this.bits.fill(0, at * BITSET_WORDS, (at + 1) * BITSET_WORDS);
    this.flags[cell] = this.flags[cell]! & ~UNCOUNTED;
    const base = this.bitDaysBase(at);
    if (base >= 0) this.bitDays.fill(0, base, base + BITSET_BITS);
  }

  /** Where a bit-set cell's day counts start; -1 for the last level, which keeps none. */
  private bitDaysBase(at: number): number {
    const level = at % this.levels;
    if (level === this.levels - 1) return -1;
    return (((at - level) / this.levels) * (this.levels - 1) + level) * BITSET_BITS;
  }

  private countBit(cell: number, at: number, bit: number): void {
    if ((this.flags[cell]! & UNCOUNTED) !== 0) return;
    const base = this.bitDaysBase(at);
    if (base < 0) return;
    if (this.bitDays[base + bit] === 255) this.flags[cell] = this.flags[cell]! | UNCOUNTED;
    else this.bitDays[base + bit] = this.bitDays[base + bit]! + 1;
  }

  /** A day leaves a counted bit-set cell: each of its bits that no other day of the level has is cleared. */
  private uncountDay(cell: number, at: number, words: readonly number[]): void {
    const base = this.bitDaysBase(at);
    if (base < 0) return;
    for (let w = 0; w < BITSET_WORDS; w++) {
      for (let rest = words[w] ?? 0; rest !== 0; rest &= rest - 1) {
        const bit = w * 32 + 31 - Math.clz32(rest & -rest);
        const left = this.bitDays[base + bit]! - 1;
        this.bitDays[base + bit] = left;
        if (left === 0) this.bits[at * BITSET_WORDS + w] = (this.bits[at * BITSET_WORDS + w]! & ~(1 << (bit & 31))) >>> 0;
      }
    }
  }

  private refold(i: number, cell: number, slot: string, bucket: Readonly<SlotValues> | undefined): void {
    const v = bucket?.[slot];
    if (v !== undefined) this.enter(i, cell, v);
  }

  /** Recomputes the dirty cells from the days of their level alone, in ascending day order like load(). */
  private clean(state: Readonly<CustomerState>): void {
    const { edges, ids } = this.shape;
    const last = this.levels - 1;
    for (let i = 0; i < ids.length; i++) {
      for (let k = 0; k < this.levels; k++) {
        const cell = i * this.levels + k;
        if ((this.flags[cell]! & DIRTY) === 0) continue;
        this.present[cell] = 0;
        this.resetCell(i, cell);
        const slot = ids[i]!;
        if (k < last) {
          for (let day = this.anchor - edges[k]!; day < this.anchor - (k === 0 ? 0 : edges[k - 1]!); day++) this.refold(i, cell, slot, state.buckets[day]);
        } else {
          this.refold(i, cell, slot, state.archive);
          const below = this.anchor - (this.shape.flat[i] === 1 ? 0 : this.shape.maxEdge);
          for (const key in state.buckets) if (Number(key) < below) this.refold(i, cell, slot, state.buckets[key]);
        }
        // An inexact sum stays marked: it is recomputed on every read (float sums depend on order).
        // A bit set whose day counts overflowed again while refolding stays uncounted.
        if ((this.flags[cell]! & INEXACT) === 0) this.flags[cell] = this.flags[cell]! & UNCOUNTED;
      }
    }
    this.dirty = false;
    for (let c = 0; c < this.flags.length; c++) if ((this.flags[c]! & DIRTY) !== 0) this.dirty = true;
  }
}
