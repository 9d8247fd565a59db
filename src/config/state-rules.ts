// The state rules every store of every command applies (budget, content-duplicate horizon), built once
// from the config so a rule cannot differ between the engine, replays and snapshots.
import type { CompiledSpec } from '../features/compile-spec.js';
import type { StateRules } from '../state/state-store.js';
import type { ChurnflowConfig } from './config-schema.js';

export function stateRules(config: Readonly<ChurnflowConfig>, spec: CompiledSpec, onBudgetExceeded?: (customerId: string, bytes: number) => void): StateRules {
  return {
    layout: spec.layout,
    maxBytesPerCustomer: config.state.maxBytesPerCustomer,
    dedupe: config.state.dedupe,
    ...(onBudgetExceeded ? { onBudgetExceeded } : {}),
  };
}
