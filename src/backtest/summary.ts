// The few sentences at the top of the report: which model wins on net value and by how much (the
// headline), what was replayed, what the best threshold would have been in hindsight, how well the models rank.
import type { BacktestData } from './backtest-report.js';
import type { Comparison } from './compare-models.js';
import type { ModelEvaluation } from './evaluate-model.js';
import { formatNumber, formatPercent, formatRatio, formatSigned, formatThreshold } from './format-number.js';

export function summarize(data: BacktestData, models: readonly ModelEvaluation[], comparison: Comparison): string[] {
  const out: string[] = [netValueSentence(models, comparison)];
  out.push(
    `${formatNumber(data.rows)} point-in-time rows (${formatNumber(data.customers)} customers, ${data.observations.dates} observation dates from ${data.observations.first} to ${data.observations.last}); ` +
      `${formatNumber(data.churners)} of them churned within ${data.horizonDays} days (${formatPercent(data.churnRate)}).`,
  );
  out.push(
    `Best grid threshold in hindsight: ${models
      .map((m) => (m.business.bestOnGrid ? `${m.label} ${formatThreshold(m.business.bestOnGrid.threshold)} (net value ${formatNumber(m.business.bestOnGrid.netValue)})` : `${m.label} —`))
      .join(', ')}.`,
  );
  out.push(`Ranking quality: ROC-AUC ${models.map((m) => `${m.label} ${formatRatio(m.rocAuc)}`).join(', ')}; PR-AUC ${models.map((m) => `${m.label} ${formatRatio(m.prAuc)}`).join(', ')}.`);
  return out;
}

function netValueSentence(models: readonly ModelEvaluation[], comparison: Comparison): string {
  const r = comparison.netValueAtModelThreshold;
  const byLabel = new Map(models.map((m) => [m.label, m]));
  const decision = (label: string) => {
    const m = byLabel.get(label)!;
    const b = m.business.atModelThreshold;
    return `${label} contacts ${formatNumber(b.contacted)} at threshold ${formatThreshold(m.threshold)} and catches ${formatNumber(b.churnersCaught)} churners`;
  };
  if (models.length === 1) {
    const m = models[0]!;
    const b = m.business.atModelThreshold;
    return `At its own threshold, ${decision(m.label)}: net value ${formatNumber(b.netValue)} (ROI ${formatPercent(b.roi, 0)}).`;
  }
  if (r.runnerUp === null) return 'Net value could not be compared.';
  const best = byLabel.get(r.order[0]!)!;
  const second = byLabel.get(r.runnerUp)!;
  const v1 = best.business.atModelThreshold.netValue;
  const v2 = second.business.atModelThreshold.netValue;
  if (r.winner === null) {
    return `${best.label} and ${second.label} tie on net value at their own thresholds (${formatNumber(v1)} each; ${decision(best.label)}, ${decision(second.label)}).`;
  }
  const rel = r.relativeMargin === null ? '' : `, ${formatSigned(r.relativeMargin * 100, 1)}%`;
  return (
    `${best.label} wins on net value at its own threshold: ${formatNumber(v1)} against ${formatNumber(v2)} for ${second.label}${models.length > 2 ? ' (the next best)' : ''} ` +
    `(${formatSigned(r.margin)}${rel}); ${decision(best.label)}, ${decision(second.label)}.`
  );
}
