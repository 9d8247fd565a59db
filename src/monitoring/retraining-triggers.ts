// Retraining rules over one closed window: concept drift (rolling recall too low), data drift in more
// than N features at alert severity, or a model older than the limit at event time. Each reason fires
// at most once per model version per cooldown, so a lasting condition is one trigger, not one per
// window. Triggers travel as DriftMetricRecords (statistic `retraining_trigger`, subject = reason).
import type { DriftMonitorOptions } from './drift/drift-options.js';

export type RetrainingReason = 'concept_drift' | 'data_drift' | 'model_age';

export const RETRAINING_TRIGGER_STATISTIC = 'retraining_trigger';

export interface TriggerInput {
  readonly modelVersion: string;
  readonly windowEnd: number;
  /** Features at alert severity in the window (data drift), if a drift window closed. */
  readonly featuresInAlert?: readonly string[];
  /** Recall of the window when it is below the concept-drift line, if a performance window closed. */
  readonly conceptDriftRecall?: number;
  /** manifest created_at (epoch ms). */
  readonly modelCreatedAt: number;
}

export interface RetrainingTrigger {
  readonly reason: RetrainingReason;
  /** features in alert | recall | model age in days. */
  readonly value: number;
  readonly detail: string;
}

/** When each (model version, reason) last fired (event time). */
export type TriggerHistory = Map<string, number>;

export function retrainingTriggers(input: TriggerInput, history: TriggerHistory, o: DriftMonitorOptions): RetrainingTrigger[] {
  const candidates: RetrainingTrigger[] = [];
  if (input.conceptDriftRecall !== undefined) {
    candidates.push({ reason: 'concept_drift', value: input.conceptDriftRecall, detail: `rolling recall ${input.conceptDriftRecall.toFixed(3)} below ${o.recallAlertFraction} × validation recall` });
  }
  const alerts = input.featuresInAlert ?? [];
  if (alerts.length > o.maxFeaturesInAlert) {
    candidates.push({ reason: 'data_drift', value: alerts.length, detail: `${alerts.length} features at alert: ${alerts.join(', ')}` });
  }
  const ageDays = (input.windowEnd - input.modelCreatedAt) / 86_400_000;
  if (Number.isFinite(ageDays) && ageDays > o.maxModelAgeDays) {
    candidates.push({ reason: 'model_age', value: ageDays, detail: `model is ${ageDays.toFixed(1)} days old (limit ${o.maxModelAgeDays})` });
  }
  const fired: RetrainingTrigger[] = [];
  for (const t of candidates) {
    const key = `${input.modelVersion}\u0000${t.reason}`;
    const last = history.get(key);
    if (last !== undefined && input.windowEnd - last < o.triggerCooldownMs) continue;
    history.set(key, input.windowEnd);
    fired.push(t);
  }
  return fired;
}
