// Sends a decided batch to its sinks: risk events, dead letters and late events. Resolves once every
// sink acknowledged, which is the precondition for remembering scores and committing offsets.
import { concatMap, type OperatorFunction } from 'rxjs';
import { toDeadLetter } from '../events/dead-letter.js';
import type { DeadLetterRecord, DriftMetricRecord, RiskEventRecord } from '../events/wire-types.js';
import type { RecordSink } from '../sinks/record-sink.js';
import type { DecidedBatch } from './batch.js';

export interface OutputSinks {
  readonly risk: RecordSink<RiskEventRecord>;
  readonly deadLetter: RecordSink<DeadLetterRecord>;
  /** Too-late events; may be the dead-letter sink (the envelope's `route` tells them apart). */
  readonly late: RecordSink<DeadLetterRecord>;
  /** Drift and performance metrics, when monitoring is on (written by the monitor stage). */
  readonly drift?: RecordSink<DriftMetricRecord>;
  /** The shadow model's risk events (its own output: never the campaign consumers' risk topic). */
  readonly shadow?: RecordSink<RiskEventRecord>;
}

export async function writeBatchOutputs<B extends DecidedBatch>(batch: B, sinks: OutputSinks): Promise<B> {
  const writes: Promise<void>[] = [sinks.risk.write(batch.riskEvents)];
  if (sinks.shadow && batch.shadowEvents && batch.shadowEvents.length > 0) writes.push(sinks.shadow.write(batch.shadowEvents));
  if (sinks.late === sinks.deadLetter) {
    writes.push(sinks.deadLetter.write(batch.rejected.map(toDeadLetter)));
  } else {
    writes.push(
      sinks.deadLetter.write(batch.rejected.filter((r) => r.route === 'dead-letter').map(toDeadLetter)),
      sinks.late.write(batch.rejected.filter((r) => r.route === 'late').map(toDeadLetter)),
    );
  }
  await Promise.all(writes);
  return batch;
}

export function writeOutputs<B extends DecidedBatch>(sinks: OutputSinks): OperatorFunction<B, B> {
  return concatMap((batch) => writeBatchOutputs(batch, sinks));
}
