// Loads history into a state store through the same record stages as scoring (decode → validate →
// event time → micro-batch → state apply), without scoring: what batch scoring over a replayed
// history (`score-all --input`) starts from.
import { concatMap, count, defer, map, type Observable } from 'rxjs';
import { toDeadLetter } from '../src/events/dead-letter.js';
import type { Accepted, Rejected, Routed } from '../src/events/routed.js';
import type { DeadLetterRecord } from '../src/events/wire-types.js';
import type { ValidationRules } from '../src/events/validate-event.js';
import type { CompiledSpec } from '../src/features/compile-spec.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { microBatch } from '../src/operators/micro-batch.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { validateEvents } from '../src/operators/validate-events.js';
import type { RecordDecoder } from '../src/serde/record-decoder.js';
import { FlowControl } from '../src/sources/flow-control.js';
import type { RecordSource } from '../src/sources/record-source.js';
import type { RecordSink } from '../src/sinks/record-sink.js';
import type { StateStore } from '../src/state/state-store.js';
import type { Clock } from '../src/time/clock.js';
import type { WatermarkTracker } from '../src/time/watermark.js';

export interface StateLoadEdges {
  readonly source: RecordSource;
  readonly decoder: RecordDecoder;
  readonly rules: ValidationRules;
  readonly store: StateStore;
  readonly spec: CompiledSpec;
  /** "Now" of the future-time check. */
  readonly clock: Clock;
  /** The event-time tracker under the run's watermark rule; default: lateness only. */
  readonly watermarks?: WatermarkTracker;
  /** Refused and too-late records, with their reasons. */
  readonly deadLetters?: RecordSink<DeadLetterRecord>;
}

export function stateLoadTopology(
  edges: StateLoadEdges,
  options: { allowedLatenessMs: number; batchSize: number },
): Observable<{ records: number }> {
  return defer(() => {
    const flow = new FlowControl(4 * options.batchSize);
    let records = 0;
    return edges.source.records(flow).pipe(
      decodeRecords(edges.decoder),
      validateEvents(edges.rules, edges.clock),
      routeLateEvents({ allowedLatenessMs: options.allowedLatenessMs }, edges.watermarks),
      microBatch<Routed>({ maxSize: options.batchSize, maxWaitMs: 20 }),
      concatMap(async (items) => {
        const accepted = items.filter((i): i is Accepted => i.tag === 'accepted');
        await edges.store.apply(accepted.map((a) => edges.spec.deltaFor(a.event, a.record.position)));
        const rejected = items.filter((i): i is Rejected => i.tag === 'rejected');
        if (edges.deadLetters && rejected.length > 0) await edges.deadLetters.write(rejected.map(toDeadLetter));
        records += items.length;
        flow.release(items.length);
      }),
      count(),
      map(() => ({ records })),
    );
  });
}
