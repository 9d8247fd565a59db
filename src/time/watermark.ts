// Event-time watermarks per source stream (a Kafka partition, a file): the stream's event-time
// frontier minus the allowed lateness. Streams are tracked apart so a lagging partition is not judged
// by a fast one.
//
// The rule (docs/architecture.md, "Event time"): a stream's frontier is the highest event time seen,
// but an event never moves it beyond processing time + maxSkewMs — so one record stamped hours ahead
// (inside the future-time validation rule) cannot make every later real-time event late. The overall
// watermark is the lowest over streams that are neither idle (no record for idleTimeoutMs of
// processing time) nor revoked (remove()), and it never goes back. Processing time is the injected
// clock (a replay passes its ReplayClock, which follows the input, so replays stay deterministic).
import type { Clock } from './clock.js';
import { FrontierCheckpoints } from './frontier-checkpoints.js';

export interface WatermarkOptions {
  /** How far behind the stream's frontier an event may be and still count. */
  readonly allowedLatenessMs: number;
  /** An event moves its stream's frontier at most this far past the clock's now (default: unbounded). */
  readonly maxSkewMs?: number;
  /** A stream without records for this long (processing time) stops holding back overall() (default: never). */
  readonly idleTimeoutMs?: number;
  /** Processing time for maxSkewMs and idleTimeoutMs; required when either is set. */
  readonly clock?: Clock;
}

interface StreamMark {
  /** Highest event time this stream's events moved it to (capped by the skew rule). */
  frontier: number;
  /** Processing time of the stream's last record (idleness). */
  lastSeenAt: number;
  /** Frontier after each offset that moved it, oldest first, until frontierAt() trims them (persistence). */
  readonly checkpoints: FrontierCheckpoints;
  /** The frontier in force before the first checkpoint (undefined: nothing seen before it). */
  base: number | undefined;
}

/** Checkpoints kept per stream when nobody reads them (sources without offsets): a bound, not a feature. */
const MAX_CHECKPOINTS = 100_000;

export class WatermarkTracker {
  private readonly streams = new Map<string, StreamMark>();
  private lastOverall: number | undefined;

  constructor(private readonly options: WatermarkOptions) {
    if ((options.maxSkewMs !== undefined || options.idleTimeoutMs !== undefined) && !options.clock) {
      throw new RangeError('WatermarkTracker: maxSkewMs and idleTimeoutMs need a clock');
    }
  }

  /**
   * Records an event time (at `offset` of the stream, when the source has offsets); returns true if
   * the event is behind the stream's watermark (i.e. late). Late events do not move the frontier.
   */
  observe(stream: string, eventTime: number, offset?: number): boolean {
    const now = this.options.clock?.now() ?? 0;
    const mark = this.streams.get(stream);
    if (mark) mark.lastSeenAt = now;
    if (mark && eventTime < mark.frontier - this.options.allowedLatenessMs) return true;
    const capped = this.options.maxSkewMs === undefined ? eventTime : Math.min(eventTime, now + this.options.maxSkewMs);
    if (!mark) {
      const checkpoints = new FrontierCheckpoints();
      if (offset !== undefined) checkpoints.push(offset, capped);
      this.streams.set(stream, { frontier: capped, lastSeenAt: now, checkpoints, base: offset === undefined ? capped : undefined });
    } else if (capped > mark.frontier) {
      mark.frontier = capped;
      if (offset !== undefined) {
        mark.checkpoints.push(offset, capped);
        if (mark.checkpoints.size > MAX_CHECKPOINTS) mark.base = mark.checkpoints.shift();
      }
    }
    return false;
  }

  watermark(stream: string): number | undefined {
    const mark = this.streams.get(stream);
    return mark === undefined ? undefined : mark.frontier - this.options.allowedLatenessMs;
  }

  /** The lowest watermark over active streams (idle and removed ones do not hold it back); never decreases. */
  overall(): number | undefined {
    const now = this.options.clock?.now() ?? 0;
    const idleMs = this.options.idleTimeoutMs;
    let low: number | undefined;
    for (const mark of this.streams.values()) {
      if (idleMs !== undefined && now - mark.lastSeenAt > idleMs) continue;
      const w = mark.frontier - this.options.allowedLatenessMs;
      if (low === undefined || w < low) low = w;
    }
    if (low !== undefined && (this.lastOverall === undefined || low > this.lastOverall)) this.lastOverall = low;
    return this.lastOverall;
  }

  /**
   * The stream's frontier as it stood right after `offset` (what a commit of offset+1 should persist:
   * records after it are redelivered on a restart and must be judged exactly as the first time).
   * Forgets the checkpoints before it: commits only move forward.
   */
  frontierAt(stream: string, offset: number): number | undefined {
    const mark = this.streams.get(stream);
    if (!mark) return undefined;
    const cps = mark.checkpoints;
    const frontier = cps.at(offset, (dropped) => (mark.base = dropped));
    if (frontier === undefined) return cps.size === 0 ? mark.frontier : mark.base;
    return frontier;
  }

  /**
   * Restores a stream's frontier persisted by an earlier run (e.g. from the offset commit's metadata),
   * before its first record is observed. Never moves a frontier back. Counts as activity now.
   */
  seed(stream: string, frontier: number): void {
    const mark = this.streams.get(stream);
    const now = this.options.clock?.now() ?? 0;
    if (!mark) this.streams.set(stream, { frontier, lastSeenAt: now, checkpoints: new FrontierCheckpoints(), base: frontier });
    else if (frontier > mark.frontier) {
      mark.frontier = frontier;
      mark.checkpoints.clear();
      mark.base = frontier;
    }
  }

  /** Forgets a stream (its partition was revoked): it no longer holds back overall(). */
  remove(stream: string): void {
    this.streams.delete(stream);
  }

  /** Streams tracked now. */
  streamNames(): string[] {
    return [...this.streams.keys()];
  }
}
