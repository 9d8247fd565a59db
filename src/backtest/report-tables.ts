// The report's tables as HTML: models side by side, the campaign per model (key, own and best thresholds,
// the full grid folded), lift by decile, calibration bins, and the data and settings of the run.
import type { BacktestReport } from './backtest-report.js';
import type { BusinessRow } from './business.js';
import type { ModelEvaluation } from './evaluate-model.js';
import { formatDate, formatNumber, formatPercent, formatRatio, formatThreshold } from './format-number.js';
import { escapeHtml as e } from './html-escape.js';

type Cell = string | { readonly html: string; readonly cls?: string };

function row(label: string, cells: readonly Cell[], cls?: string): string {
  const tds = cells.map((c) => (typeof c === 'string' ? `<td>${e(c)}</td>` : `<td${c.cls ? ` class="${c.cls}"` : ''}>${c.html}</td>`)).join('');
  return `<tr${cls ? ` class="${cls}"` : ''}><th scope="row">${label}</th>${tds}</tr>`;
}

/** An empty caption or head is left out. */
function table(caption: string, head: readonly string[], body: readonly string[], cls = ''): string {
  const cap = caption ? `<caption>${e(caption)}</caption>` : '';
  const thead = head.length > 0 ? `<thead><tr>${head.map((h) => `<th scope="col">${h}</th>`).join('')}</tr></thead>` : '';
  return `<div class="table-wrap"><table${cls ? ` class="${cls}"` : ''}>${cap}${thead}<tbody>${body.join('')}</tbody></table></div>`;
}

function trainerValue(m: ModelEvaluation, key: string, digits = 3): string {
  const v = m.trainerValidation?.[key];
  return typeof v === 'number' ? ` <span class="note">(training validation ${formatRatio(v, digits)})</span>` : '';
}

/** Headline metrics, one column per model; the net value winner is marked. */
export function modelsTable(report: BacktestReport): string {
  const ms = report.models;
  const winner = report.comparison.netValueAtModelThreshold.winner;
  const c = (f: (m: ModelEvaluation) => string) => ms.map((m) => f(m));
  const h = (f: (m: ModelEvaluation) => string) => ms.map((m) => ({ html: f(m) }));
  const b = (m: ModelEvaluation) => m.business.atModelThreshold;
  const body = [
    row('Model bundle', h((m) => `${e(m.name)}@${e(m.version)} <span class="note">${e(m.dir)}</span>`)),
    row('Threshold (from the manifest)', c((m) => formatThreshold(m.threshold))),
    row('ROC-AUC', h((m) => `${formatRatio(m.rocAuc)}${trainerValue(m, 'roc_auc')}`)),
    row('PR-AUC (average precision)', h((m) => `${formatRatio(m.prAuc)}${trainerValue(m, 'pr_auc')}`)),
    row('Brier score (lower is better)', c((m) => formatRatio(m.brier, 4))),
    row('Mean score <span class="note">vs churn rate ' + formatRatio(report.data.churnRate) + '</span>', c((m) => formatRatio(m.meanScore))),
    row('Precision at threshold', h((m) => `${formatPercent(m.atThreshold.precision)}${trainerValue(m, 'precision')}`)),
    row('Recall at threshold', h((m) => `${formatPercent(m.atThreshold.recall)}${trainerValue(m, 'recall')}`)),
    row('F1 at threshold', h((m) => `${formatRatio(m.atThreshold.f1)}${trainerValue(m, 'f1')}`)),
    row('Customers contacted', c((m) => `${formatNumber(b(m).contacted)} (${formatPercent(b(m).contacted / report.data.rows)})`)),
    row('Churners caught', c((m) => `${formatNumber(b(m).churnersCaught)} of ${formatNumber(report.data.churners)}`)),
    row('Expected customers saved', c((m) => formatNumber(b(m).expectedSaved, 1))),
    row('Campaign cost', c((m) => formatNumber(b(m).campaignCost))),
    row('Revenue saved', c((m) => formatNumber(b(m).revenueSaved))),
    row('<strong>Net value</strong>', ms.map((m) => ({ html: `<strong>${formatNumber(b(m).netValue)}</strong>`, ...(m.label === winner ? { cls: 'win' } : {}) }))),
    row('ROI (net value / cost)', c((m) => formatPercent(b(m).roi, 0))),
    row('Best grid threshold in hindsight', c((m) => (m.business.bestOnGrid ? `${formatThreshold(m.business.bestOnGrid.threshold)} → net value ${formatNumber(m.business.bestOnGrid.netValue)}` : '—'))),
  ];
  return table('', ['decisions at each model’s own threshold', ...ms.map((m) => e(m.label))], body, 'models');
}

const KEY_THRESHOLDS = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9];

function businessRowHtml(r: BusinessRow, label: string, cls: string | undefined): string {
  return row(
    label,
    [formatNumber(r.contacted), formatNumber(r.churnersCaught), formatPercent(r.precision), formatNumber(r.expectedSaved, 1), formatNumber(r.campaignCost), formatNumber(r.revenueSaved), { html: `<strong>${formatNumber(r.netValue)}</strong>` }, formatPercent(r.roi, 0)],
    cls,
  );
}

const BUSINESS_HEAD = ['threshold', 'contacted', 'churners caught', 'precision', 'expected saved', 'campaign cost', 'revenue saved', 'net value', 'ROI'];

/** Key grid thresholds plus the model's own (blue) and the best on the grid (green); the whole grid in a fold. */
export function businessTable(m: ModelEvaluation): string {
  const best = m.business.bestOnGrid;
  const grid = m.business.grid;
  const ownRow = m.business.atModelThreshold;
  // The own threshold may sit on the grid: show that row once, as the model's own.
  const picked = grid.filter((r) => (KEY_THRESHOLDS.some((k) => Math.abs(k - r.threshold) < 1e-12) || r === best) && r.threshold !== ownRow.threshold);
  const rows = [...picked.map((r) => ({ r, own: false })), { r: ownRow, own: true }].sort((a, b) => a.r.threshold - b.r.threshold);
  const body = rows.map(({ r, own }) => {
    const isBest = best !== null && r.threshold === best.threshold;
    const label = `${formatThreshold(r.threshold)}${own ? ' <span class="note">own</span>' : ''}${isBest ? ' <span class="note">best</span>' : ''}`;
    const cls = [own ? 'own' : '', isBest ? 'best' : ''].filter(Boolean).join(' ');
    return businessRowHtml(r, label, cls || undefined);
  });
  const full = grid.map((r) => businessRowHtml(r, formatThreshold(r.threshold), r === best ? 'best' : undefined));
  return (
    table(`Campaign by threshold: ${m.label}`, BUSINESS_HEAD, body, 'business') +
    `<details><summary>Every threshold on the grid (${grid.length})</summary>${table(`All grid thresholds: ${m.label}`, BUSINESS_HEAD, full, 'business-full')}</details>`
  );
}

export function liftTable(m: ModelEvaluation): string {
  const body = m.lift.map((r) =>
    row(String(r.decile), [
      formatNumber(r.rows),
      `${formatRatio(r.minScore)}–${formatRatio(r.maxScore)}`,
      formatNumber(r.churners),
      formatPercent(r.churnRate),
      formatRatio(r.lift, 2),
      formatPercent(r.cumulativeCapture),
      formatRatio(r.cumulativeLift, 2),
    ]),
  );
  return table(`Lift by score decile: ${m.label}`, ['decile', 'rows', 'score range', 'churners', 'churn rate', 'lift', 'churners caught so far', 'cum. lift'], body, 'lift');
}

export function calibrationTable(m: ModelEvaluation): string {
  const body = m.calibration.map((b) =>
    row(`${formatRatio(b.lower, 1)}–${formatRatio(b.upper, 1)}`, [formatNumber(b.rows), formatNumber(b.churners), formatRatio(b.meanPredicted), formatRatio(b.observedRate), b.meanPredicted === null ? '—' : formatNumber((b.observedRate! - b.meanPredicted) * 100, 1)]),
  );
  return table(`Calibration bins: ${m.label}`, ['score bin', 'rows', 'churners', 'mean score', 'observed rate', 'gap (points)'], body, 'calibration');
}

export function dataTable(report: BacktestReport): string {
  const d = report.data;
  const src = Object.entries(d.source)
    .map(([k, v]) => (k === 'startTime' && typeof v === 'number' ? `start=${formatDate(v)}` : `${e(k)}=${e(typeof v === 'object' ? JSON.stringify(v) : String(v))}`))
    .join(', ');
  const r = d.replay;
  const body = [
    row('History', [{ html: src }]),
    row('Requested period (observation dates)', [`${d.period.from ?? 'start'} to ${d.period.to ?? 'end'}`]),
    row('Observation dates used', [
      d.observations.labelsFile
        ? `${d.observations.dates}, ${d.observations.first} to ${d.observations.last}, the rows and labels of ${d.observations.labelsFile}`
        : `${d.observations.dates}, ${d.observations.first} to ${d.observations.last}, every ${d.observations.everyDays} days after ${d.observations.warmupDays} days of warm-up`,
    ]),
    row('Rows / customers / churners', [`${formatNumber(d.rows)} / ${formatNumber(d.customers)} / ${formatNumber(d.churners)} (${formatPercent(d.churnRate)})`]),
    row('Label', [`cancellation within ${d.horizonDays} days after the observation time`]),
    row('Feature spec', [{ html: `${e(d.featureSpec.name)} <code>${e(d.featureSpec.hash)}</code>` }]),
    row('Records replayed', [
      `${formatNumber(r.records)}: ${formatNumber(r.applied)} applied, ${formatNumber(r.deadLettered)} dead-lettered, ${formatNumber(r.late)} late, ${formatNumber(r.beforeSignup)} before signup`,
    ]),
    row('Rows left out', [`${formatNumber(r.unlabelledRows)} with a horizon past the data (label unknown), ${formatNumber(r.rowsOutsidePeriod)} outside the period`]),
    row('Costs', [
      `contact cost ${formatNumber(report.costs.contactCost, 2)}, churner loss ${formatNumber(report.costs.churnerLoss, 2)}, save rate ${formatPercent(report.costs.saveRate, 0)} (${report.costs.source})`,
    ]),
    row('Threshold grid', [`${formatThreshold(report.thresholdGridStep)} to ${formatThreshold(1 - report.thresholdGridStep)} in steps of ${formatThreshold(report.thresholdGridStep)}`]),
  ];
  return table('', [], body, 'data');
}
