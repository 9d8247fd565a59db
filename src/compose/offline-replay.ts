// The parts every offline replay shares (replay, snapshot, backtest, score-all --input): the input
// side (source, mapping decoder, event-time policy, replay clock) and a fresh in-memory store under
// the configured state rules (byte budget, content-duplicate horizon), so a replay applies exactly
// the engine's rules. The topologies take `edges` as they are.
import type { ChurnflowConfig } from '../config/config-schema.js';
import type { ValidationRules } from '../events/validate-event.js';
import type { CompiledSpec } from '../features/compile-spec.js';
import type { RegistryClient } from '../serde/registry-client.js';
import type { RecordDecoder } from '../serde/record-decoder.js';
import type { RecordSource } from '../sources/record-source.js';
import type { StateStore } from '../state/state-store.js';
import type { Clock } from '../time/clock.js';
import type { WatermarkTracker } from '../time/watermark.js';
import { buildEventDecoding, type EventDecoding, type EventInput } from './event-decoding.js';
import { buildStateStore } from './state-store.js';

/** The record and state stages' edges, as every topology takes them. */
export interface ReplayEdges {
  readonly source: RecordSource;
  readonly decoder: RecordDecoder;
  readonly rules: ValidationRules;
  /** "Now" of the future-time check. */
  readonly clock: Clock;
  readonly watermarks: WatermarkTracker;
  readonly store: StateStore;
  readonly spec: CompiledSpec;
}

export interface OfflineReplay extends EventDecoding {
  readonly store: StateStore;
  readonly edges: ReplayEdges;
  /** Times a customer's state was cut to state.maxBytesPerCustomer (its oldest days folded into the archive). */
  budgetCuts(): number;
}

export function buildOfflineReplay(
  config: Readonly<ChurnflowConfig>,
  spec: CompiledSpec,
  input: EventInput,
  options: { readonly now?: number; readonly registry?: () => RegistryClient } = {},
): OfflineReplay {
  const decoding = buildEventDecoding(config, input, options);
  let cuts = 0;
  const store = buildStateStore(config, spec, { kind: 'memory', onBudgetExceeded: () => void cuts++ });
  const { source, decoder, policy, watermarks } = decoding;
  return {
    ...decoding,
    store,
    edges: { source, decoder, rules: policy.rules, clock: policy.validationClock, watermarks, store, spec },
    budgetCuts: () => cuts,
  };
}
