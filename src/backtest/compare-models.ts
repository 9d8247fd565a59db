// Which model does best: on net value at each model's own threshold (what it would do in
// production), on net value at its best grid threshold (in hindsight), and on ranking (ROC-AUC).
import type { ModelEvaluation } from './evaluate-model.js';

export interface Ranking {
  /** Labels in order, best first; equal values keep the input order. */
  readonly order: string[];
  /** Each model's value, in input order. */
  readonly values: readonly { readonly label: string; readonly value: number | null }[];
  /** The best model, or null when the top two are equal (a tie) or nothing is defined. */
  readonly winner: string | null;
  readonly runnerUp: string | null;
  /** best − runner-up. */
  readonly margin: number | null;
  /** margin / |runner-up|; null when the runner-up is 0. */
  readonly relativeMargin: number | null;
}

export interface Comparison {
  readonly netValueAtModelThreshold: Ranking;
  readonly netValueBestOnGrid: Ranking;
  readonly rocAuc: Ranking;
  readonly prAuc: Ranking;
}

export function rankBy(models: readonly ModelEvaluation[], value: (m: ModelEvaluation) => number | null): Ranking {
  const entries = models.map((m) => ({ label: m.label, v: value(m) }));
  const defined = entries.filter((e): e is { label: string; v: number } => e.v !== null).sort((a, b) => b.v - a.v);
  const order = [...defined.map((e) => e.label), ...entries.filter((e) => e.v === null).map((e) => e.label)];
  const values = entries.map((e) => ({ label: e.label, value: e.v }));
  const [best, second] = defined;
  if (best === undefined || second === undefined) {
    return { order, values, winner: best?.label ?? null, runnerUp: null, margin: null, relativeMargin: null };
  }
  const margin = best.v - second.v;
  return {
    order,
    values,
    winner: margin > 0 ? best.label : null,
    runnerUp: second.label,
    margin,
    relativeMargin: second.v === 0 ? null : margin / Math.abs(second.v),
  };
}

export function compareModels(models: readonly ModelEvaluation[]): Comparison {
  return {
    netValueAtModelThreshold: rankBy(models, (m) => m.business.atModelThreshold.netValue),
    netValueBestOnGrid: rankBy(models, (m) => m.business.bestOnGrid?.netValue ?? null),
    rocAuc: rankBy(models, (m) => m.rocAuc),
    prAuc: rankBy(models, (m) => m.prAuc),
  };
}
