// Which customers the midnight drift sample loads, picked from their ids alone (no state read):
// those this instance owns, within the sample rate, and at most maxCustomers of them — the ones
// with the lowest sampling hash (a bottom-k sketch), so the choice does not depend on the order ids
// arrive in (SCAN order is arbitrary) and the same customers are picked every day. Memory is bounded
// by 2 × maxCustomers ids whatever the number of customers offered.
import { fnv1a } from './observation-sample.js';

export interface SampleSelectionOptions {
  /** Share of customers sampled: those whose fnv1a(id) / 2^32 is below it (observationSample's rule). */
  readonly rate: number;
  /** At most this many ids (the lowest hashes). */
  readonly maxCustomers: number;
  /** Customers of this instance (its partitions); absent: every customer. */
  readonly owns?: (customerId: string) => boolean;
}

export class SampleSelection {
  /** id → hash; compacted to the lowest maxCustomers whenever it reaches twice that. */
  private readonly kept = new Map<string, number>();
  private offeredCount = 0;
  private ownedCount = 0;

  constructor(private readonly options: SampleSelectionOptions) {
    if (!(options.rate > 0 && options.rate <= 1)) throw new RangeError(`rate must be in (0, 1], got ${options.rate}`);
    if (!(Number.isInteger(options.maxCustomers) && options.maxCustomers >= 1)) throw new RangeError(`maxCustomers must be a positive integer, got ${options.maxCustomers}`);
  }

  /** Ids may repeat (a SCAN during a rehash returns some twice): a repeated id counts once in the sample. */
  offer(ids: Iterable<string>): void {
    const { rate, owns } = this.options;
    const limit = rate * 0x1_0000_0000;
    for (const id of ids) {
      this.offeredCount++;
      const h = fnv1a(id);
      if (h >= limit) continue; // the cheap test first: most ids stop here at low rates
      if (owns && !owns(id)) continue;
      this.ownedCount++;
      this.kept.set(id, h);
      if (this.kept.size >= 2 * this.options.maxCustomers) this.compact();
    }
  }

  /** Ids offered so far (repeats included). */
  get offered(): number {
    return this.offeredCount;
  }

  /** Offered ids within the rate and owned by this instance (repeats included), before the cap. */
  get eligible(): number {
    return this.ownedCount;
  }

  /** The sample: at most maxCustomers ids, sorted (so chunked loads and the rows come in a fixed order). */
  ids(): string[] {
    this.compact();
    return [...this.kept.keys()].sort();
  }

  private compact(): void {
    const k = this.options.maxCustomers;
    if (this.kept.size <= k) return;
    const lowest = [...this.kept].sort(([a, ha], [b, hb]) => ha - hb || (a < b ? -1 : a > b ? 1 : 0)).slice(0, k);
    this.kept.clear();
    for (const [id, h] of lowest) this.kept.set(id, h);
  }
}
