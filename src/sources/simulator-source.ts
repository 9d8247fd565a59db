// The simulator as a source: the embedded demo's input. Valid events arrive as parsed NDJSON objects,
// injected bad records as the raw text a broken producer would have sent.
import type { Observable } from 'rxjs';
import type { RawRecord } from '../events/activity-event.js';
import { simulate, type SimulatorOptions } from '../simulator/index.js';
import type { Clock } from '../time/clock.js';
import type { FlowControl } from './flow-control.js';
import { iterateUnderFlowControl, type RecordSource } from './record-source.js';

export interface SimulatorSourceOptions {
  /** Emit at most this many records per second of wall time (0 or absent: as fast as possible). */
  readonly eventsPerSecond?: number;
}

export function createSimulatorSource(options: SimulatorOptions, clock: Clock, pacing: SimulatorSourceOptions = {}): RecordSource {
  let stopped = false;
  const stream = `simulator:seed-${options.seed}`;
  function* records(): Iterable<RawRecord> {
    let offset = 0;
    for (const rec of simulate(options)) {
      const position = { stream, offset: offset++ };
      if (rec.type === 'event') {
        yield { position, format: 'json-object', value: rec.event, key: rec.event.customer_id, receivedAt: clock.now() };
      } else {
        yield { position, format: 'json', value: rec.raw, key: null, receivedAt: clock.now() };
      }
    }
  }
  return {
    name: stream,
    records: (flow: FlowControl): Observable<RawRecord> =>
      iterateUnderFlowControl(pacing.eventsPerSecond ? () => paced(records(), pacing.eventsPerSecond!) : records, flow, () => stopped),
    commit: async () => {},
    stop: () => {
      stopped = true;
    },
    close: async () => {
      stopped = true;
    },
  };
}

/** Paces an iterable to a rate by sleeping between chunks; a demo watched by a person needs a speed dial. */
async function* paced<T>(items: Iterable<T>, perSecond: number): AsyncIterable<T> {
  const started = performance.now();
  let n = 0;
  for (const item of items) {
    yield item;
    n++;
    if (n % 64 === 0) {
      const due = started + (n / perSecond) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
  }
}
