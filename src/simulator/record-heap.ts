// Min-heap of generated records ordered by (emitTime, generation order), so output is sorted by
// arrival and ties break the same way on every run.

import type { SimulatedRecord } from './records.js';

export class RecordHeap {
  private readonly times: number[] = [];
  private readonly ords: number[] = [];
  private readonly records: SimulatedRecord[] = [];
  private nextOrd = 0;

  get size(): number {
    return this.records.length;
  }

  /** Emit time of the next record; Infinity when empty. */
  peekTime(): number {
    return this.times[0] ?? Infinity;
  }

  push(record: SimulatedRecord): void {
    // Parallel arrays keep the comparisons on plain numbers (no object property loads).
    let i = this.records.length;
    const t = record.emitTime;
    const ord = this.nextOrd++;
    this.times.push(t);
    this.ords.push(ord);
    this.records.push(record);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(t, ord, parent)) break;
      this.move(parent, i);
      i = parent;
    }
    this.place(i, t, ord, record);
  }

  pop(): SimulatedRecord {
    const top = this.records[0];
    if (top === undefined) throw new RangeError('pop from an empty RecordHeap');
    const lastT = this.times.pop() as number;
    const lastOrd = this.ords.pop() as number;
    const lastRecord = this.records.pop() as SimulatedRecord;
    const n = this.records.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && this.less(r, l) ? r : l;
      if (!this.lessThan(child, lastT, lastOrd)) break;
      this.move(child, i);
      i = child;
    }
    this.place(i, lastT, lastOrd, lastRecord);
    return top;
  }

  /** (t, ord) sorts before the entry at index j. */
  private before(t: number, ord: number, j: number): boolean {
    const tj = this.times[j] as number;
    return t < tj || (t === tj && ord < (this.ords[j] as number));
  }

  /** Entry i sorts before (t, ord). */
  private lessThan(i: number, t: number, ord: number): boolean {
    const ti = this.times[i] as number;
    return ti < t || (ti === t && (this.ords[i] as number) < ord);
  }

  private less(i: number, j: number): boolean {
    return this.lessThan(i, this.times[j] as number, this.ords[j] as number);
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number;
    this.ords[to] = this.ords[from] as number;
    this.records[to] = this.records[from] as SimulatedRecord;
  }

  private place(i: number, t: number, ord: number, record: SimulatedRecord): void {
    this.times[i] = t;
    this.ords[i] = ord;
    this.records[i] = record;
  }
}
