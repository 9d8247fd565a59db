// Sends a decided batch to its sinks: risk events, the current-risk view they change, dead letters and
// late events. Resolves once every sink acknowledged, which is the precondition for committing offsets.
// A risk (or shadow) event that its sink refuses for its size sends its input to the dead-letter
// output as OUTPUT_TOO_LARGE instead: retrying could never write it, and the partition must go on.
import { concatMap, type OperatorFunction } from 'rxjs';
import { describePosition, toDeadLetter } from '../events/dead-letter.js';
import { reject, type Rejected } from '../events/routed.js';
import type { CurrentRiskRecord, DeadLetterRecord, DriftMetricRecord, RiskEventRecord } from '../events/wire-types.js';
import { currentRiskOf } from '../scoring/current-risk.js';
import { ChurnflowError } from '../errors.js';
import { OutputTooLargeError } from '../sinks/output-too-large.js';
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
  /**
   * The current-risk view (a compacted topic, key = customer): one record per risk event, new or
   * re-emitted, in the same order, so the latest record of a customer is its last published risk —
   * exactly what the emit rule stored in its state and the HTTP lookup reads. Absent when `risk` writes
   * the view itself: on Kafka both go in one produce request (sinks/joint-kafka-sink.ts, compose/sinks.ts).
   */
  readonly currentRisk?: RecordSink<CurrentRiskRecord>;
}

/** Writes risk events; resolves with the inputs of those the sink refused as too large. */
async function writeRiskEvents(sink: RecordSink<RiskEventRecord>, events: readonly RiskEventRecord[], batch: DecidedBatch): Promise<Rejected[]> {
  try {
    await sink.write(events);
    return [];
  } catch (err) {
    if (!(err instanceof OutputTooLargeError)) throw err;
    return err.indexes.map((i) => {
      const e = events[i]!;
      // A new decision (a step) or a stored one re-emitted for a redelivered input (a replay).
      const triggeredBy = (s: { item: { event: { eventId: string; customerId: string } } }) => s.item.event.eventId === e.trigger_event_id && s.item.event.customerId === e.customer_id;
      const step = batch.steps.find(triggeredBy) ?? batch.replays.find(triggeredBy);
      if (!step) throw new ChurnflowError('CF_SINK_FAILED', `${sink.name} refused risk event ${e.event_id} as too large, and no input of the batch triggered it`, { cause: err });
      const detail = `the risk event this record triggered is larger than ${sink.name} accepts (${errCause(err)})`;
      return reject(step.item.record, 'dead-letter', 'OUTPUT_TOO_LARGE', detail, step.item.event);
    });
  }
}

function errCause(err: OutputTooLargeError): string {
  const c = err.cause as { type?: unknown; message?: unknown } | undefined;
  return typeof c?.type === 'string' ? c.type : typeof c?.message === 'string' ? c.message : 'refused';
}

export async function writeBatchOutputs<B extends DecidedBatch>(batch: B, sinks: OutputSinks): Promise<B> {
  const refusals: Promise<Rejected[]>[] = [writeRiskEvents(sinks.risk, batch.riskEvents, batch)];
  const writes: Promise<void>[] = [];
  // A risk event refused as too large (dead-lettered below) still changed the stored view: the record says so.
  if (sinks.currentRisk && batch.riskEvents.length > 0) writes.push(sinks.currentRisk.write(batch.riskEvents.map(currentRiskOf)));
  if (sinks.shadow && batch.shadowEvents && batch.shadowEvents.length > 0) refusals.push(writeRiskEvents(sinks.shadow, batch.shadowEvents, batch));
  if (sinks.late === sinks.deadLetter) {
    writes.push(sinks.deadLetter.write(batch.rejected.map(toDeadLetter)));
  } else {
    writes.push(
      sinks.deadLetter.write(batch.rejected.filter((r) => r.route === 'dead-letter').map(toDeadLetter)),
      sinks.late.write(batch.rejected.filter((r) => r.route === 'late').map(toDeadLetter)),
    );
  }
  const [refused] = await Promise.all([Promise.all(refusals), Promise.all(writes)]);
  // One dead letter per input, even when both its risk and its shadow event were refused.
  const byPosition = new Map<string, Rejected>();
  for (const r of refused.flat()) if (!byPosition.has(describePosition(r))) byPosition.set(describePosition(r), r);
  if (byPosition.size === 0) return batch;
  const tooLarge = [...byPosition.values()];
  await sinks.deadLetter.write(tooLarge.map(toDeadLetter));
  // Counted with the batch's other dead letters; the event's state change stands (it was applied).
  return { ...batch, rejected: [...batch.rejected, ...tooLarge] };
}

export function writeOutputs<B extends DecidedBatch>(sinks: OutputSinks): OperatorFunction<B, B> {
  return concatMap((batch) => writeBatchOutputs(batch, sinks));
}
