// Feeds the drift monitor from the scoring stream and writes what it concludes: every scored event
// (for the delayed-label join), the label events, and — at each midnight the watermark passes — a
// sample of active customers' feature rows as of that midnight, the same population the model's
// reference distributions describe (a stable hash-picked share of this instance's customers, capped,
// picked from ids before any state is read). Window results (drift, performance, retraining triggers) go to
// the drift sink.
import { createHash } from 'node:crypto';
import { DAY_MS } from '../events/activity-event.js';
import type { DriftMetricRecord } from '../events/wire-types.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import type { DriftMonitor } from '../monitoring/drift-monitor.js';
import { observationSample, type ObservationSample } from '../monitoring/drift/observation-sample.js';
import { SampleSelection } from '../monitoring/drift/sample-selection.js';
import type { ScoringModel } from '../scoring/scoring-model.js';
import type { RecordSink } from '../sinks/record-sink.js';
import type { CustomerState } from '../state/customer-state.js';
import type { StateStore } from '../state/state-store.js';
import { WatermarkTracker } from '../time/watermark.js';
import { scoredBy, type DecidedBatch } from './batch.js';

export interface DriftStage {
  readonly monitor: DriftMonitor;
  readonly sink: RecordSink<DriftMetricRecord>;
  readonly store: StateStore;
  readonly spec: CompiledSpec;
  /** The production model now (undefined while the fallback rules score: no samples then). */
  readonly model: () => ScoringModel | undefined;
  /** The topology's allowed lateness: the stage's own watermark follows the events already applied. */
  readonly allowedLatenessMs: number;
  /** Share of customers in each midnight sample (a stable hash of the id picks them). */
  readonly sampleRate: number;
  /** Bounds of the midnight sample (defaults: DEFAULT_SAMPLE_BOUNDS) and whose customers this instance samples. */
  readonly sample?: SampleBounds;
  /** The stage's applied-events watermark, when the engine shares it (to drop revoked partitions, apply the skew and idleness rule). */
  readonly applied?: WatermarkTracker;
}

export interface SampleBounds {
  /** At most this many customers per midnight (the lowest sampling hashes; the same customers each day). */
  readonly maxCustomers?: number;
  /** States loaded per store read. */
  readonly loadChunk?: number;
  /** Ids per page of the id enumeration. */
  readonly scanPage?: number;
  /** Customers of this instance's partitions (several instances: each samples its own); absent: all. */
  readonly owns?: (customerId: string) => boolean;
}

export const DEFAULT_SAMPLE_BOUNDS = Object.freeze({ maxCustomers: 50_000, loadChunk: 500, scanPage: 1000 });

/**
 * The midnight sample as of `asOf`, in bounded memory and work: ids are enumerated without state, the
 * sample is picked from the ids alone (owned, within the rate, capped), and only the picked customers'
 * states are loaded, `loadChunk` at a time, each chunk turned into rows before the next is read.
 */
export async function takeMidnightSample(
  store: Pick<StateStore, 'scanIds' | 'get'>,
  spec: CompiledSpec,
  asOf: number,
  options: { readonly rate: number; readonly bounds?: SampleBounds; readonly isGone?: (customerId: string, asOf: number) => boolean },
): Promise<ObservationSample & { readonly offered: number; readonly eligible: number }> {
  const b = { ...DEFAULT_SAMPLE_BOUNDS, ...options.bounds };
  const selection = new SampleSelection({ rate: options.rate, maxCustomers: b.maxCustomers, ...(b.owns ? { owns: b.owns } : {}) });
  for await (const ids of store.scanIds(b.scanPage, { unique: false })) selection.offer(ids);
  const ids = selection.ids();
  const out = { rows: [] as Float64Array[], customerIds: [] as string[], eventTimes: [] as number[], categories: [] as Record<string, string | null>[] };
  for (let i = 0; i < ids.length; i += b.loadChunk) {
    const states = (await store.get(ids.slice(i, i + b.loadChunk))).filter((s): s is CustomerState => s !== null);
    // The rate was applied to the ids already: every loaded customer is in the sample.
    const part = observationSample(spec, states, asOf, options.isGone ? { isGone: options.isGone } : {});
    out.rows.push(...part.rows);
    out.customerIds.push(...part.customerIds);
    out.eventTimes.push(...part.eventTimes);
    out.categories.push(...part.categories);
  }
  return { ...out, offered: selection.offered, eligible: selection.eligible };
}

/**
 * One stage per topology (it keeps the next midnight to sample). process() runs inside the per-batch
 * chain, so the monitor is fed in order and a slow sample holds back the source like any other stage.
 */
export function createDriftStage(stage: DriftStage): { process(batch: DecidedBatch): Promise<void> } {
  let nextMidnight: number | undefined;
  /** The first midnight this stage sampled: what its windows have seen starts there. */
  let observingSince: number | undefined;
  const { monitor, spec } = stage;
  // Not the source's watermark: records of later batches move that one before their state is applied,
  // and a midnight sampled then would miss events that belong before it. This one only sees applied
  // events, so when it passes a midnight every event before it is in the store (later ones are late).
  const applied = stage.applied ?? new WatermarkTracker({ allowedLatenessMs: stage.allowedLatenessMs });
  return {
    async process(batch) {
      // Only production's own scores count (not the fallback rules', not canary steps scored by the candidate).
      const manifest = batch.model.manifest;
      const scored = manifest ? batch.steps.map((s, i) => ({ s, i, score: batch.scores[i]! })).filter(({ s, i }) => s.outcome === 'applied' && scoredBy(batch, i) === batch.model) : [];
      if (scored.length > 0) {
        monitor.observeScores({
          scores: scored.map((x) => x.score),
          eventTimes: scored.map((x) => x.s.item.event.eventTime),
          customerIds: scored.map((x) => x.s.item.event.customerId),
          ...(manifest ? { model: manifest } : {}),
        });
      }
      const labels = batch.steps.filter((s) => s.outcome === 'applied' && spec.isLabelEvent(s.item.event));
      if (labels.length > 0) monitor.observeLabels(labels.map((s) => ({ customerId: s.item.event.customerId, eventTime: s.item.event.eventTime })));

      // The first midnight sampled follows the stream's first event, not the first batch's watermark:
      // how the stream happens to be batched must not move the sample days.
      if (nextMidnight === undefined && batch.steps.length > 0) {
        let first = Number.POSITIVE_INFINITY;
        for (const st of batch.steps) first = Math.min(first, st.item.event.eventTime);
        nextMidnight = (Math.floor(first / DAY_MS) + 1) * DAY_MS;
        observingSince = nextMidnight;
      }
      for (const st of batch.steps) applied.observe(st.item.record.position.stream, st.item.event.eventTime);
      const wm = applied.overall();
      if (wm === undefined || nextMidnight === undefined) return;
      while (nextMidnight <= wm) {
        const sample = await takeMidnightSample(stage.store, spec, nextMidnight, { rate: stage.sampleRate, ...(stage.sample ? { bounds: stage.sample } : {}), isGone: (id, t) => monitor.isGone(id, t) });
        const model = stage.model();
        if (sample.rows.length > 0 && model) {
          const scores = await model.scoreFeatures(sample.rows);
          monitor.observeSample({ ...sample, scores, model: model.manifest });
        }
        nextMidnight += DAY_MS;
      }
      const records = monitor.advance(wm);
      if (records.length > 0) await stage.sink.write(records.map((r) => ({ ...r, metric_id: scopedMetricId(r.metric_id, observingSince!) })));
    },
  };
}

/**
 * A drift record's id also names where its monitor started observing. The monitor's windows live in
 * memory, so after a restart or a rebalance a window holds only what this process saw: its records
 * then carry other ids than an uninterrupted run's (never the same id with other values), and the
 * same id always means the same bytes.
 */
export function scopedMetricId(metricId: string, observingSince: number): string {
  return `dm-${createHash('sha256').update(`${metricId}\u0000${observingSince}`).digest('hex').slice(0, 32)}`;
}
