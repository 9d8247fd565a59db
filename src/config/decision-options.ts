// The risk-decision options every path takes from one config (engine, replay, demo): reasons and
// experiment arms, so a replay writes the same risk events the live engine does.
import type { DecisionOptions } from '../operators/decide-risk.js';
import type { ChurnflowConfig } from './config-schema.js';

export function decisionOptions(config: Pick<ChurnflowConfig, 'model' | 'experiment'>): Omit<DecisionOptions, 'processingTime'> {
  return {
    reasonsTopK: config.model.reasons.topK,
    reasonsAboveThresholdOnly: config.model.reasons.aboveThresholdOnly,
    ...(config.experiment.enabled ? { experiment: { salt: config.experiment.salt, treatmentShare: config.experiment.treatmentShare } } : {}),
  };
}

/** Load options for a model that must explain its scores when the config asks for reasons. */
export function modelLoadOptions(config: Pick<ChurnflowConfig, 'model'>): { intraOpThreads: number; explain: boolean } {
  return { intraOpThreads: config.model.intraOpThreads, explain: config.model.reasons.topK > 0 };
}
