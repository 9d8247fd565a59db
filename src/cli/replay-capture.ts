// A parallel replay's worker's sinks: they keep what the topology writes for the batch in progress,
// and take() hands it over with the input position of the record behind each output — a risk event
// (and its current-risk record) by the step or re-emission that triggered it, a dead letter by its
// own record. Counts that do not match the batch are a broken invariant, not data: they fail the run.
import { ChurnflowError } from '../errors.js';
import type { CurrentRiskRecord, DeadLetterRecord, RiskEventRecord } from '../events/wire-types.js';
import type { DecidedBatch } from '../operators/batch.js';
import type { OutputSinks } from '../operators/write-outputs.js';
import type { RecordSink } from '../sinks/record-sink.js';
import type { BatchOutputs } from './replay-protocol.js';

function capturing<T>(name: string): RecordSink<T> & { held: T[] } {
  const held: T[] = [];
  return {
    name: `capture:${name}`,
    held,
    async write(records) {
      for (const r of records) held.push(r);
    },
    flush: async () => {},
    close: async () => {},
  };
}

export function captureOutputs(): { readonly sinks: OutputSinks; take(batch: DecidedBatch): BatchOutputs } {
  const risk = capturing<RiskEventRecord>('risk');
  const currentRisk = capturing<CurrentRiskRecord>('current-risk');
  const dead = capturing<DeadLetterRecord>('dead-letters');
  const drain = <T>(s: { held: T[] }): T[] => s.held.splice(0, s.held.length);
  return {
    // Late events share the dead-letter output, as in a replay's file outputs (compose/sinks.ts).
    sinks: { risk, currentRisk, deadLetter: dead, late: dead },
    take(batch) {
      const items = batch.items;
      const progress = items.length > 0 ? items[items.length - 1]!.record.position.offset : Number.NEGATIVE_INFINITY;
      const deadLetters = drain(dead);
      if (deadLetters.length !== batch.rejected.length) throw broken(`${deadLetters.length} dead letters written for ${batch.rejected.length} rejected records`);
      const risks = drain(risk);
      const currents = drain(currentRisk);
      if (risks.length !== batch.riskEvents.length || currents.length !== risks.length) throw broken(`${risks.length} risk events and ${currents.length} current-risk records written for ${batch.riskEvents.length} decided`);
      let riskSeq: number[] = [];
      if (risks.length > 0) {
        // The record behind each risk event: its trigger (customer and event id) among the batch's steps and re-emissions.
        const at = new Map<string, number>();
        const key = (customerId: string, eventId: string) => `${customerId}\u0000${eventId}`;
        for (const s of batch.replays) at.set(key(s.item.event.customerId, s.item.event.eventId), s.item.record.position.offset);
        for (const s of batch.steps) at.set(key(s.item.event.customerId, s.item.event.eventId), s.item.record.position.offset);
        riskSeq = risks.map((e) => {
          const seq = at.get(key(e.customer_id, e.trigger_event_id));
          if (seq === undefined) throw broken(`risk event ${e.event_id} has no trigger in its batch`);
          return seq;
        });
      }
      return {
        progress,
        risk: { seq: riskSeq, values: risks },
        currentRisk: { seq: riskSeq, values: currents },
        deadLetters: { seq: batch.rejected.map((r) => r.record.position.offset), values: deadLetters },
      };
    },
  };
}

function broken(message: string): ChurnflowError {
  return new ChurnflowError('CF_REPLAY_WORKER', `parallel replay: ${message}`, { retriable: false });
}
