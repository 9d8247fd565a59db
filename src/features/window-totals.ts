// Totals of every slot over every window length, from one pass over a customer's day buckets.
// Windows are nested (7d ⊂ 30d ⊂ 90d ⊂ all time), so each bucket is merged once, into the smallest
// window that holds it, and a window's total combines the levels up to it. Buffers are reused
// between calls: this runs once per scored event.
import { DAY_MS, type Scalar } from '../events/activity-event.js';
import type { CustomerState } from '../state/customer-state.js';
import { BITSET_WORDS, type SlotMerge, type SlotValue } from '../state/slots.js';

export class WindowTotals {
  private readonly slotIndex: ReadonlyMap<string, number>;
  private readonly merges: readonly SlotMerge[];
  private readonly windowIndex: ReadonlyMap<number, number>;
  private readonly levels: number;
  private readonly num: Float64Array;
  private readonly has: Uint8Array;
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
    this.num = new Float64Array(cells);
    this.has = new Uint8Array(cells);
    this.lastT = new Float64Array(cells);
    this.lastV = new Array<Scalar>(cells).fill(null);
    this.bits = new Uint32Array(cells * BITSET_WORDS);
  }

  /** Loads the state's buckets that start before asOf. */
  load(state: Readonly<CustomerState>, asOf: number): void {
    this.has.fill(0);
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

  /** Total of a slot over a window of `days` (one of the declared window lengths). */
  window(slot: string, days: number): SlotValue | undefined {
    const k = this.windowIndex.get(days);
    return k === undefined ? undefined : this.combine(slot, k);
  }

  allTime(slot: string): SlotValue | undefined {
    return this.combine(slot, this.levels - 1);
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
          this.num[cell] = (first ? 0 : this.num[cell]!) + (v as number);
          break;
        case 'max':
          this.num[cell] = first ? (v as number) : Math.max(this.num[cell]!, v as number);
          break;
        case 'min':
          this.num[cell] = first ? (v as number) : Math.min(this.num[cell]!, v as number);
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

  private combine(slot: string, upTo: number): SlotValue | undefined {
    const i = this.slotIndex.get(slot);
    if (i === undefined) return undefined;
    const merge = this.merges[i]!;
    let found = false;
    let acc = 0;
    let bestT = 0;
    let bestV: Scalar = null;
    const words = merge === 'bits' ? new Array<number>(BITSET_WORDS).fill(0) : undefined;
    for (let k = 0; k <= upTo; k++) {
      const cell = i * this.levels + k;
      if (this.has[cell] === 0) continue;
      const x = this.num[cell]!;
      switch (merge) {
        case 'add':
          acc = found ? acc + x : x;
          break;
        case 'max':
          acc = found ? Math.max(acc, x) : x;
          break;
        case 'min':
          acc = found ? Math.min(acc, x) : x;
          break;
        case 'last':
          if (!found || this.lastT[cell]! > bestT) {
            bestT = this.lastT[cell]!;
            bestV = this.lastV[cell]!;
          }
          break;
        case 'bits':
          for (let w = 0; w < BITSET_WORDS; w++) words![w] = (words![w]! | this.bits[cell * BITSET_WORDS + w]!) >>> 0;
          break;
      }
      found = true;
    }
    if (!found) return undefined;
    if (merge === 'last') return [bestT, bestV];
    if (merge === 'bits') return words!;
    return acc;
  }
}
