// Event-time slices of a sliding window: slice i covers [i·slide, (i+1)·slide); a window ending at
// E = k·slide is the sum of the windowMs/slideMs slices before E. Old slices are dropped once every
// window that contains them has closed, so memory is (window/slide + slices ahead of the watermark).

export class SlidingSlices<T> {
  private readonly slices = new Map<number, T>();

  constructor(
    readonly slideMs: number,
    readonly windowMs: number,
    private readonly create: () => T,
  ) {}

  sliceIndex(t: number): number {
    return Math.floor(t / this.slideMs);
  }

  /** The slice holding event time t (created on first use). */
  at(t: number): T {
    const i = this.sliceIndex(t);
    let s = this.slices.get(i);
    if (s === undefined) {
      s = this.create();
      this.slices.set(i, s);
    }
    return s;
  }

  /** Slices of the window ending at `end` (a multiple of slideMs), oldest first. */
  window(end: number): T[] {
    const last = Math.round(end / this.slideMs) - 1;
    const first = last - this.windowMs / this.slideMs + 1;
    const out: T[] = [];
    for (let i = first; i <= last; i++) {
      const s = this.slices.get(i);
      if (s !== undefined) out.push(s);
    }
    return out;
  }

  /** Drops slices that no window ending after `closedEnd` contains. */
  evict(closedEnd: number): void {
    const keepFrom = Math.round(closedEnd / this.slideMs) - this.windowMs / this.slideMs + 1;
    for (const i of this.slices.keys()) if (i < keepFrom) this.slices.delete(i);
  }

  /** Whether a window ending after `closedEnd` still contains event time t. */
  accepts(t: number, closedEnd: number): boolean {
    return this.sliceIndex(t) >= Math.round(closedEnd / this.slideMs) - this.windowMs / this.slideMs + 1;
  }

  /** Lowest slice start held, or undefined when empty. */
  firstStart(): number | undefined {
    let min: number | undefined;
    for (const i of this.slices.keys()) if (min === undefined || i < min) min = i;
    return min === undefined ? undefined : min * this.slideMs;
  }

  get size(): number {
    return this.slices.size;
  }
}

/** Window ends (multiples of slideMs) in (after, upTo]. */
export function windowEnds(after: number, upTo: number, slideMs: number): number[] {
  const out: number[] = [];
  if (!Number.isFinite(after) || !Number.isFinite(upTo)) return out;
  for (let e = (Math.floor(after / slideMs) + 1) * slideMs; e <= upTo; e += slideMs) out.push(e);
  return out;
}
