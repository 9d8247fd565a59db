// Observation rows for data drift: customers' feature rows as of an observation time T, taken from
// their stored state exactly as the training snapshot takes them (signed up before T, buckets before
// T only), for a stable hash-chosen share of customers. The manifest reference describes these rows,
// not the per-event rows of the scoring stream (those are taken just after an event, so recency
// features sit near 0 and active customers count once per event): see docs/monitoring.md.
import type { CompiledSpec } from '../../features/compile-spec.js';
import type { CustomerState } from '../../state/customer-state.js';

export interface ObservationSample {
  readonly rows: Float64Array[];
  readonly customerIds: string[];
  readonly eventTimes: number[];
  readonly categories: Record<string, string | null>[];
}

export interface ObservationSampleOptions {
  /** Share of customers sampled (by a hash of the id, so the same customers every time). Default 1. */
  readonly sampleRate?: number;
  /**
   * Rolling panel: observe each customer at one observation time in `every` (those whose id hash
   * mod `every` is `index` mod `every`). Daily observations with every = 7 and a 7-day window put each
   * customer in a window exactly once, on mixed weekdays, and spread the evaluation cost over the week.
   */
  readonly rotation?: { readonly every: number; readonly index: number };
  /** Customers no longer there at T (e.g. cancelled before it), if the caller knows them. */
  readonly isGone?: (customerId: string, asOf: number) => boolean;
}

export function observationSample(spec: CompiledSpec, states: Iterable<Readonly<CustomerState>>, asOf: number, options: ObservationSampleOptions = {}): ObservationSample {
  const rate = options.sampleRate ?? 1;
  const categoryFeatures = spec.spec.features.filter((f) => f.type === 'category').map((f) => f.name);
  const out: ObservationSample = { rows: [], customerIds: [], eventTimes: [], categories: [] };
  const rot = options.rotation;
  const slot = rot === undefined ? 0 : ((rot.index % rot.every) + rot.every) % rot.every;
  for (const state of states) {
    const h = rate < 1 || rot !== undefined ? fnv1a(state.customerId) : 0;
    if (rate < 1 && h / 0x1_0000_0000 >= rate) continue;
    if (rot !== undefined && h % rot.every !== slot) continue;
    const signup = spec.signupTime(state, asOf);
    if (signup === null || signup >= asOf) continue; // not a customer yet
    if (options.isGone?.(state.customerId, asOf)) continue;
    out.rows.push(spec.evaluate(state, asOf));
    out.customerIds.push(state.customerId);
    out.eventTimes.push(asOf);
    out.categories.push(Object.fromEntries(categoryFeatures.map((f) => [f, spec.categoryValue(state, f, asOf)])));
  }
  return out;
}

/** 32-bit FNV-1a of a string's UTF-16 code units: a cheap, stable sampling hash. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
