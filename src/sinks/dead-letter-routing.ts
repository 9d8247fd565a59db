// Key and headers of dead letters on Kafka, so a consumer can route them without decoding the value.
import type { IHeaders } from 'kafkajs';
import type { DeadLetterRecord } from '../events/wire-types.js';

/** Headers on dead-letter messages (the original key is in the value only). */
export function deadLetterHeaders(d: DeadLetterRecord): IHeaders {
  const h: IHeaders = { 'churnflow-reason': d.reason_code, 'churnflow-route': d.route, 'churnflow-source': d.source };
  if (d.source_topic !== null) h['churnflow-source-topic'] = d.source_topic;
  if (d.source_partition !== null) h['churnflow-source-partition'] = String(d.source_partition);
  if (d.source_offset !== null) h['churnflow-source-offset'] = d.source_offset;
  return h;
}

/** Keyed by customer when the envelope names one (bounded by sinks.deadLetter.maxKeyBytes), else by its own id. */
export function deadLetterKey(d: DeadLetterRecord): string {
  return d.customer_id ?? d.dead_letter_id;
}
