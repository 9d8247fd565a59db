// Totals of every slot over every window length, from one pass over a customer's day buckets.
// Windows are nested (7d ⊂ 30d ⊂ 90d ⊂ all time), so each bucket is merged once, into the smallest
// window that holds it, and a window's total combines the levels up to it. A window that ends before
// the observation time (an offset window, a trend's earlier period) combines the levels between its
// two edges. Buffers are reused between calls: this runs once per scored event.
import { DAY_MS, type Scalar } from '../events/activity-event.js';
import type { CustomerState } from '../state/customer-state.js';
import { BITSET_WORDS, estimateDistinct, type SlotMerge, type SlotValue } from '../state/slots.js';

export class WindowTotals {
  private readonly slotIndex: ReadonlyMap<string, number>;
  private readonly merges: readonly SlotMerge[];
  private readonly windowIndex: ReadonlyMap<number, number>;
  private readonly levels: number;
  private readonly num_: Float64Array;
  private readonly scratch = new Uint32Array(BITSET_WORDS);
  private readonly has: Uint8Array;
  /** Per cell, the day buckets in which an 'add' slot is non-zero: exact active days (a bucket is one UTC day). */
  private readonly days: Uint32Array;
  private readonly lastT: Float64Array;
  private readonly lastV: Scalar[];
  private readonly bits: Uint32Array;

  constructor(
    slots: ReadonlyMap<string, SlotMerge>,
    private readonly windowDays: readonly number[],
  ) {
    const ids = [...slots.keys()];
    this.slotIndex = new Map(ids.map((id, i) => [id, i]));
    this.merges = ids.map((id) => slots.get(id)!);
    this.windowIndex = new Map(windowDays.map((d, k) => [d, k]));
    this.levels = windowDays.length + 1; // the last level: older than the longest window, and the archive
    const cells = ids.length * this.levels;
    this.num_ = new Float64Array(cells);
    this.has = new Uint8Array(cells);
    this.days = new Uint32Array(cells);
    this.lastT = new Float64Array(cells);
    this.lastV = new Array<Scalar>(cells).fill(null);
    this.bits = new Uint32Array(cells * BITSET_WORDS);
  }

  /** Loads the state's buckets that start before asOf. */
  load(state: Readonly<CustomerState>, asOf: number): void {
    this.has.fill(0);
    this.days.fill(0);
    this.bits.fill(0);
    const last = this.levels - 1;
    this.mergeBucket(state.archive, last);
    const lastDay = Math.ceil(asOf / DAY_MS) - 1;
    for (const key in state.buckets) {
      const day = Number(key);
      if (day > lastDay) continue;
      const startsAt = day * DAY_MS;
      let level = last;
      for (let k = 0; k < this.windowDays.length; k++) {
        if (startsAt >= asOf - this.windowDays[k]! * DAY_MS) {
          level = k;
          break;
        }
      }
      this.mergeBucket(state.buckets[key]!, level);
    }
  }

  /** Index of a slot, for the accessors below (resolve once, at compile time). */
  index(slot: string): number {
    const i = this.slotIndex.get(slot);
    if (i === undefined) throw new Error(`unknown slot ${slot}`);
    return i;
  }

  /** Level of a window length; `allTime` is the last level. */
  level(days: number): number {
    const k = this.windowIndex.get(days);
    if (k === undefined) throw new Error(`no window of ${days} days`);
    return k;
  }

  get allTime(): number {
    return this.levels - 1;
  }

  /** add/max/min total over levels from..upTo; NaN when no bucket in range has the slot. */
  num(i: number, upTo: number, from = 0): number {
    const merge = this.merges[i]!;
    let found = false;
    let acc = 0;
    for (let k = from; k <= upTo; k++) {
      const cell = i * this.levels + k;
      if (this.has[cell] === 0) continue;
      const x = this.num_[cell]!;
      acc = !found ? x : merge === 'add' ? acc + x : merge === 'max' ? Math.max(acc, x) : Math.min(acc, x);
      found = true;
    }
    return found ? acc : Number.NaN;
  }

  /**
   * Day buckets over levels from..upTo in which an 'add' slot is non-zero. Exact for window levels; the
   * last level also holds the archive, which counts as one bucket (compileSpec never asks for it).
   */
  activeDays(i: number, upTo: number, from = 0): number {
    let n = 0;
    for (let k = from; k <= upTo; k++) n += this.days[i * this.levels + k]!;
    return n;
  }

  /** Event time of the latest 'last' value over levels 0..upTo (NaN if none); lastValue gives the value. */
  lastTime(i: number, upTo: number): number {
    const cell = this.lastCell(i, upTo);
    return cell < 0 ? Number.NaN : this.lastT[cell]!;
  }

  lastValue(i: number, upTo: number): Scalar | undefined {
    const cell = this.lastCell(i, upTo);
    return cell < 0 ? undefined : this.lastV[cell];
  }

  /** Distinct-count estimate of a bit-set slot over levels from..upTo (0 if none). */
  distinct(i: number, upTo: number, from = 0): number {
    this.scratch.fill(0);
    for (let k = from; k <= upTo; k++) {
      const cell = i * this.levels + k;
      if (this.has[cell] === 0) continue;
      for (let w = 0; w < BITSET_WORDS; w++) this.scratch[w]! |= this.bits[cell * BITSET_WORDS + w]!;
    }
    return estimateDistinct(this.scratch);
  }

  private lastCell(i: number, upTo: number): number {
    let best = -1;
    for (let k = 0; k <= upTo; k++) {
      const cell = i * this.levels + k;
      if (this.has[cell] === 0) continue;
      if (best < 0 || this.lastT[cell]! > this.lastT[best]!) best = cell;
    }
    return best;
  }

  private mergeBucket(values: Readonly<Record<string, SlotValue>>, level: number): void {
    for (const slot in values) {
      const i = this.slotIndex.get(slot);
      if (i === undefined) continue;
      const cell = i * this.levels + level;
      const v = values[slot]!;
      const first = this.has[cell] === 0;
      this.has[cell] = 1;
      switch (this.merges[i]) {
        case 'add':
          this.num_[cell] = (first ? 0 : this.num_[cell]!) + (v as number);
          if (v !== 0) this.days[cell]!++;
          break;
        case 'max':
          this.num_[cell] = first ? (v as number) : Math.max(this.num_[cell]!, v as number);
          break;
        case 'min':
          this.num_[cell] = first ? (v as number) : Math.min(this.num_[cell]!, v as number);
          break;
        case 'last': {
          const t = (v as readonly [number, Scalar])[0];
          if (first || t > this.lastT[cell]!) {
            this.lastT[cell] = t;
            this.lastV[cell] = (v as readonly [number, Scalar])[1];
          }
          break;
        }
        case 'bits': {
          const words = v as readonly number[];
          const base = cell * BITSET_WORDS;
          for (let w = 0; w < BITSET_WORDS; w++) this.bits[base + w]! |= words[w] ?? 0;
          break;
        }
      }
    }
  }
}
