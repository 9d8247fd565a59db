// Whether the engine makes progress, for /readyz: it is stalled when records wait (source lag, or
// records received and not yet acknowledged) and no batch was acknowledged for stallAfterMs. An idle
// engine (nothing waiting) is never stalled. Pure bookkeeping; time comes from the injected clock.
import type { Clock } from '../time/clock.js';

export type ProgressVerdict =
  | { readonly stalled: false }
  | {
      readonly stalled: true;
      readonly reason: string;
      /** Records behind the source's end (sum over partitions) at the last report. */
      readonly lag: number;
      /** Records received and not acknowledged. */
      readonly inFlight: number;
      readonly sinceProgressMs: number;
    };

export class ProgressTracker {
  private readonly lags = new Map<string, number>();
  private lagTotal = 0;
  private inFlight = 0;
  /** The last acknowledged batch, or the moment work arrived at an idle engine (idle time is no stall). */
  private since: number;

  constructor(private readonly options: { readonly stallAfterMs: number; readonly clock: Clock }) {
    this.since = options.clock.now();
  }

  /** The source's lag of one stream (e.g. a topic-partition) at its latest fetch. */
  lag(stream: string, records: number): void {
    const wasWaiting = this.waiting();
    this.lagTotal += records - (this.lags.get(stream) ?? 0);
    this.lags.set(stream, records);
    this.markArrival(wasWaiting);
  }

  /** After a rebalance the old partitions' lag is not ours any more; the new ones report at their first fetch. */
  forgetLag(): void {
    this.lags.clear();
    this.lagTotal = 0;
  }

  received(records: number): void {
    const wasWaiting = this.waiting();
    this.inFlight += records;
    this.markArrival(wasWaiting);
  }

  /** A batch's outputs were acknowledged (its positions committed now or, with write-behind, later): progress. */
  acknowledged(records: number): void {
    this.inFlight = Math.max(0, this.inFlight - records);
    this.since = this.options.clock.now();
  }

  verdict(): ProgressVerdict {
    if (!this.waiting()) return { stalled: false };
    const sinceProgressMs = this.options.clock.now() - this.since;
    if (sinceProgressMs <= this.options.stallAfterMs) return { stalled: false };
    return {
      stalled: true,
      reason: `no batch acknowledged for ${sinceProgressMs} ms (limit http.readiness.stallAfterMs = ${this.options.stallAfterMs}) while ${this.lagTotal} records lag and ${this.inFlight} are in flight`,
      lag: this.lagTotal,
      inFlight: this.inFlight,
      sinceProgressMs,
    };
  }

  private waiting(): boolean {
    return this.lagTotal > 0 || this.inFlight > 0;
  }

  private markArrival(wasWaiting: boolean): void {
    if (!wasWaiting && this.waiting()) this.since = this.options.clock.now();
  }
}
