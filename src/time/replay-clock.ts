// The clock of a replay: "now" is the highest event time decoded so far. Records are decoded in
// input order, so every time read from this clock depends only on the input — which is what makes a
// replay's outputs byte-identical from run to run.
import type { ActivityEvent, RawRecord } from '../events/activity-event.js';
import type { RecordDecoder } from '../serde/record-decoder.js';
import type { Clock } from './clock.js';

export class ReplayClock implements Clock {
  private t = 0;

  now(): number {
    return this.t;
  }

  observe(eventTime: number): void {
    if (eventTime > this.t) this.t = eventTime;
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
