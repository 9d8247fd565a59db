// The clock of a replay: "now" follows the event times decoded so far. Records are decoded in input
// order, so every time read from this clock depends only on the input — which is what makes a
// replay's outputs byte-identical from run to run.
//
// With maxSkewMs, one outlier cannot drag "now" ahead: an event moves the clock at most maxSkewMs past
// the event decoded just before it. A real jump in time (a gap in the data) is followed by more events
// at the new time, and the second of them carries the clock there; a lone record stamped hours ahead
// is not. Without it the clock is the highest event time (the rule before the event-time guard).
import type { ActivityEvent, RawRecord } from '../events/activity-event.js';
import type { RecordDecoder } from '../serde/record-decoder.js';
import type { Clock } from './clock.js';

export interface ReplayClockOptions {
  /** How far past the previous event's time one event may move the clock (default: unbounded). */
  readonly maxSkewMs?: number;
}

export class ReplayClock implements Clock {
  private t = 0;
  private previous: number | undefined;
  private readonly maxSkewMs: number;

  constructor(options: ReplayClockOptions = {}) {
    this.maxSkewMs = options.maxSkewMs ?? Number.POSITIVE_INFINITY;
  }

  now(): number {
    return this.t;
  }

  observe(eventTime: number): void {
    const reach = this.previous === undefined ? eventTime : Math.min(eventTime, this.previous + this.maxSkewMs);
    this.previous = eventTime;
    if (reach > this.t) this.t = reach;
  }

  /** Wraps a decoder so every decoded event advances this clock. */
  tracking(decoder: RecordDecoder): RecordDecoder {
    const tracked: RecordDecoder = {
      decode: (record: RawRecord): ActivityEvent => {
        const event = decoder.decode(record);
        this.observe(event.eventTime);
        return event;
      },
    };
    if (decoder.prepare) tracked.prepare = (records) => decoder.prepare!(records);
    return tracked;
  }
}
