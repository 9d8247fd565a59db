// Loads history into a state store through the same record stages as scoring (decode → validate →
// event time → micro-batch → state apply), without scoring: what batch scoring over a replayed
// history (`score-all --input`) starts from.
import { concatMap, count, defer, map, type Observable } from 'rxjs';
import type { Accepted, Routed } from '../src/events/routed.js';
import type { ValidationRules } from '../src/events/validate-event.js';
import type { CompiledSpec } from '../src/features/compile-spec.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { microBatch } from '../src/operators/micro-batch.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { validateEvents } from '../src/operators/validate-events.js';
import type { RecordDecoder } from '../src/serde/record-decoder.js';
import { FlowControl } from '../src/sources/flow-control.js';
import type { RecordSource } from '../src/sources/record-source.js';
import type { StateStore } from '../src/state/state-store.js';
import type { Clock } from '../src/time/clock.js';

export function stateLoadTopology(
  edges: { source: RecordSource; decoder: RecordDecoder; rules: ValidationRules; store: StateStore; spec: CompiledSpec; clock: Clock },
  options: { allowedLatenessMs: number; batchSize: number },
): Observable<{ records: number }> {
  return defer(() => {
    const flow = new FlowControl(4 * options.batchSize);
    let records = 0;
    return edges.source.records(flow).pipe(
      decodeRecords(edges.decoder),
      validateEvents(edges.rules, edges.clock),
      routeLateEvents({ allowedLatenessMs: options.allowedLatenessMs }),
      microBatch<Routed>({ maxSize: options.batchSize, maxWaitMs: 20 }),
      concatMap(async (items) => {
        const accepted = items.filter((i): i is Accepted => i.tag === 'accepted');
        await edges.store.apply(accepted.map((a) => edges.spec.deltaFor(a.event, a.record.position)));
        records += items.length;
        flow.release(items.length);
      }),
      count(),
      map(() => ({ records })),
    );
  });
}
