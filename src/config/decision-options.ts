// The risk-decision options every path takes from one config (engine, replay, demo): reasons and
// experiment arms, so a replay writes the same risk events the live engine does.
import type { DecisionOptions } from '../operators/decide-risk.js';
import type { EmitPolicy } from '../scoring/emit-rule.js';
import { configSchema, type ChurnflowConfig } from './config-schema.js';

export function decisionOptions(config: Pick<ChurnflowConfig, 'model' | 'experiment'>): Omit<DecisionOptions, 'processingTime'> {
  return {
    reasonsTopK: config.model.reasons.topK,
    reasonsAboveThresholdOnly: config.model.reasons.aboveThresholdOnly,
    ...(config.experiment.enabled ? { experiment: { salt: config.experiment.salt, treatmentShare: config.experiment.treatmentShare } } : {}),
  };
}

/** Load options for a model that must explain its scores when the config asks for reasons. */
export function modelLoadOptions(config: Pick<ChurnflowConfig, 'model'>): { intraOpThreads: number; explain: boolean; workerShare: number } {
  return { intraOpThreads: config.model.intraOpThreads, explain: config.model.reasons.topK > 0, workerShare: config.model.workerShare };
}

/** The emit rule from `engine.risk` (the schema checked that each margin has exactly one unit). */
export function emitPolicy(risk: ChurnflowConfig['engine']['risk']): EmitPolicy {
  const { hysteresis: h, largeMove: m } = risk;
  return {
    emit: risk.emit,
    hysteresis: h.logOdds !== undefined ? { logOdds: h.logOdds } : { score: h.score! },
    ...(m ? { largeMove: m.logOdds !== undefined ? { logOdds: m.logOdds } : { relative: m.relative! } } : {}),
    cooldownMs: risk.cooldownMs,
  };
}

/** The rule with the config's defaults (tests, benches). */
export const DEFAULT_EMIT_POLICY: EmitPolicy = Object.freeze(emitPolicy(configSchema.parse({}).engine.risk));
