// Simulated days for drift tests and the bench: the simulator's events go through the engine's own
// state path (compileSpec + MemoryStateStore), and at each midnight every customer's row as of that
// instant is taken from the store (observationSample, the training snapshot's rule), scored with the
// bundled model if given; the day's cancellations are the labels.
import type { ActivityEvent } from '../../../src/events/activity-event.js';
import { compileSpec, type CompiledSpec } from '../../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../../src/features/default-churn-spec.js';
import type { LabelEvent } from '../../../src/monitoring/drift-monitor.js';
import { observationSample, type ObservationSample } from '../../../src/monitoring/drift/observation-sample.js';
import type { ScoringModel } from '../../../src/scoring/scoring-model.js';
import { resolveSimulatorOptions, simulate, type SimulatorOptions } from '../../../src/simulator/index.js';
import type { StateDelta } from '../../../src/state/customer-state.js';
import { MemoryStateStore } from '../../../src/state/memory-store.js';

export const DAY_MS = 86_400_000;

export interface SimulatedDay {
  /** Day index of the observation (midnight at the start of day `day`). */
  readonly day: number;
  readonly asOf: number;
  readonly sample: ObservationSample;
  /** Scores of the sample's rows (NaN without a model). */
  readonly scores: Float32Array;
  /** Cancellations during the day before asOf. */
  readonly labels: LabelEvent[];
}

let sharedSpec: CompiledSpec | undefined;
export function churnSpec(): CompiledSpec {
  sharedSpec ??= compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
  return sharedSpec;
}

export interface ObservationSchedule {
  /** First observed day (history before it warms the windows up: 90-day features need 90 days). */
  readonly firstDay: number;
  /** Observe every n-th day from firstDay (default 1). */
  readonly everyDays?: number;
  /** Scores the rows when given. */
  readonly model?: ScoringModel;
  /** Observe each customer once every n days (rolling panel, see observationSample); default every day. */
  readonly rotationDays?: number;
}

export async function* simulatedDays(options: Partial<SimulatorOptions>, from: ObservationSchedule): AsyncGenerator<SimulatedDay> {
  const sim = resolveSimulatorOptions(options);
  const spec = churnSpec();
  const store = new MemoryStateStore({ layout: spec.layout });
  const cancelled = new Map<string, number>();
  let deltas: StateDelta[] = [];
  let labels: LabelEvent[] = [];
  let offset = 0;
  let day = 0;

  const observe = async (d: number): Promise<SimulatedDay> => {
    await store.apply(deltas);
    deltas = [];
    const asOf = sim.startTime + d * DAY_MS;
    const states = [];
    for await (const page of store.scan(2000)) states.push(...page);
    const isGone = (id: string, t: number) => (cancelled.get(id) ?? Infinity) < t;
    const sample = observationSample(spec, states, asOf, from.rotationDays ? { isGone, rotation: { every: from.rotationDays, index: d } } : { isGone });
    const scores = from.model ? await from.model.scoreFeatures(sample.rows) : new Float32Array(sample.rows.length).fill(Number.NaN);
    const out = { day: d, asOf, sample, scores, labels };
    labels = [];
    return out;
  };

  for (const r of simulate(sim)) {
    if (r.type !== 'event') continue;
    const e = r.event;
    const d = Math.floor((e.event_time - sim.startTime) / DAY_MS);
    while (day < d) {
      day++;
      if (day >= from.firstDay && (day - from.firstDay) % (from.everyDays ?? 1) === 0) yield await observe(day);
      else {
        await store.apply(deltas);
        deltas = [];
        labels = [];
      }
    }
    const event: ActivityEvent = { eventId: e.event_id, customerId: e.customer_id, eventTime: e.event_time, kind: e.kind, payload: e.payload as unknown as ActivityEvent['payload'] };
    deltas.push(spec.deltaFor(event, { stream: 'sim', offset: offset++ }));
    if (spec.isLabelEvent(event)) {
      labels.push({ customerId: event.customerId, eventTime: event.eventTime });
      if (!cancelled.has(event.customerId)) cancelled.set(event.customerId, event.eventTime);
    }
    if (deltas.length >= 2048) {
      await store.apply(deltas);
      deltas = [];
    }
  }
}
