// Reads the experiment's inputs: risk events (NDJSON RiskEventRecord) folded into one arm per customer,
// and activity events (read like every other path's, through the input mapping) reduced to the
// assigned customers' cancellation times and the data's end.
import { z } from 'zod';
import { ChurnflowError } from '../errors.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import { lastValueFrom, tap } from 'rxjs';
import type { EventDecoding } from '../compose/event-decoding.js';
import type { RawRecord } from '../events/activity-event.js';
import { FlowControl } from '../sources/flow-control.js';
import { assignArm, type ArmAssignment } from './experiment-readout.js';
import { ndjsonLines } from './read-ndjson.js';

const riskEventView = z.object({
  event_id: z.string(),
  customer_id: z.string(),
  event_time: z.number().finite(),
  above_threshold: z.boolean(),
  experiment_arm: z.string().nullable(),
});

export interface RiskInputSummary {
  readonly assignments: Map<string, ArmAssignment>;
  readonly riskEvents: number;
  readonly belowThreshold: number;
  readonly withoutArm: number;
}

/** A malformed risk event is an error (the engine wrote it, so the file is wrong), naming file and line. */
export async function readArmAssignments(path: string): Promise<RiskInputSummary> {
  const assignments = new Map<string, ArmAssignment>();
  let riskEvents = 0;
  let belowThreshold = 0;
  let withoutArm = 0;
  for await (const { line, text } of ndjsonLines(path)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ChurnflowError('CF_INPUT_INVALID', `${path}:${line}: not valid JSON`);
    }
    const res = riskEventView.safeParse(parsed);
    if (!res.success) {
      const issues = res.error.issues.map((i) => `${i.path.join('.') || '(record)'}: ${i.message}`).join('; ');
      throw new ChurnflowError('CF_INPUT_INVALID', `${path}:${line}: not a risk event (${issues})`);
    }
    const e = res.data;
    riskEvents++;
    if (!e.above_threshold) belowThreshold++;
    else if (e.experiment_arm === null) withoutArm++;
    const next = assignArm(assignments.get(e.customer_id), e);
    if (next !== undefined) assignments.set(e.customer_id, next);
  }
  return { assignments, riskEvents, belowThreshold, withoutArm };
}

export interface OutcomeSummary {
  /** Label event times of the customers asked for. */
  readonly labelTimes: Map<string, number[]>;
  readonly events: number;
  /** Lines that are not valid activity events: counted and skipped (an outcome file may hold other records). */
  readonly invalid: number;
  readonly labelEvents: number;
  /** Latest event time in the file, or null if it holds no valid event. */
  readonly lastEventTime: number | null;
}

/**
 * The outcomes as every other path reads events: a file (NDJSON, CSV or Avro) through the config's
 * input mapping (src/compose/event-decoding.ts). A record that does not decode is counted and skipped;
 * a mapping that maps nothing fails loudly at the end (CF_MAPPING_NO_MATCH).
 */
export async function readOutcomes(input: Pick<EventDecoding, 'source' | 'decoder' | 'finish'>, spec: CompiledSpec, customers: ReadonlySet<string>): Promise<OutcomeSummary> {
  const labelTimes = new Map<string, number[]>();
  let events = 0;
  let invalid = 0;
  let labelEvents = 0;
  let lastEventTime: number | null = null;
  const flow = new FlowControl(1024);
  const take = (record: RawRecord) => {
    flow.release();
    let event;
    try {
      event = input.decoder.decode(record);
    } catch (err) {
      // Only a record's own defect is skipped; a mapping that fails as a whole stops the readout.
      if (err instanceof ChurnflowError) throw err;
      invalid++;
      return;
    }
    events++;
    lastEventTime = Math.max(lastEventTime ?? event.eventTime, event.eventTime);
    if (!spec.isLabelEvent(event)) return;
    labelEvents++;
    if (!customers.has(event.customerId)) return;
    const times = labelTimes.get(event.customerId) ?? [];
    times.push(event.eventTime);
    labelTimes.set(event.customerId, times);
  };
  try {
    await lastValueFrom(input.source.records(flow).pipe(tap(take)), { defaultValue: undefined });
  } finally {
    await input.source.close();
  }
  input.finish();
  return { labelTimes, events, invalid, labelEvents, lastEventTime };
}
