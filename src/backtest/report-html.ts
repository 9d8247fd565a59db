// report.html: one self-contained page (inline CSS and SVG, no scripts, no external assets) that opens
// offline: summary, models, economics, ranking, calibration and lift, distributions, settings, glossary.
import type { BacktestReport } from './backtest-report.js';
import { formatNumber, formatPercent, formatRatio, formatThreshold } from './format-number.js';
import { escapeHtml as e } from './html-escape.js';
import { modelStyle, reportCharts, type NamedChart } from './report-charts.js';
import { REPORT_CSS } from './report-css.js';
import { businessTable, calibrationTable, dataTable, liftTable, modelsTable } from './report-tables.js';
import { renderChart } from './svg-chart.js';

function figure(chart: NamedChart): string {
  return `<figure class="chart" id="chart-${chart.key}" data-chart="${chart.key}"><figcaption><h3>${e(chart.heading)}</h3><p>${e(chart.caption)}</p></figcaption>${renderChart(chart.spec)}</figure>`;
}

function cards(report: BacktestReport): string {
  const winner = report.comparison.netValueAtModelThreshold.winner;
  return `<div class="cards">${report.models
    .map((m, i) => {
      const b = m.business.atModelThreshold;
      const s = modelStyle(i);
      return (
        `<div class="card"><div class="name"><span class="swatch" style="border-color:${s.color};${s.dash ? 'border-top-style:dashed;' : ''}"></span>${e(m.label)}</div>` +
        `<div class="big${m.label === winner ? ' win' : ''}">${formatNumber(b.netValue)}</div>` +
        `<div class="small">net value at threshold ${formatThreshold(m.threshold)} · ROI ${formatPercent(b.roi, 0)}</div>` +
        `<div class="small">contacts ${formatNumber(b.contacted)}, catches ${formatNumber(b.churnersCaught)} of ${formatNumber(report.data.churners)} churners · ROC-AUC ${formatRatio(m.rocAuc)}</div></div>`
      );
    })
    .join('')}</div>`;
}

const GLOSSARY: readonly [string, string][] = [
  ['Row', 'One customer at one observation date, with the features the engine had at that instant (nothing later) and the label: did the customer cancel within the horizon after it?'],
  ['ROC-AUC', 'The chance that a random churner scores higher than a random non-churner (ties count half). 0.5 is random ranking, 1 is perfect. Independent of the threshold.'],
  ['PR-AUC (average precision)', 'Precision averaged over the recall levels reached as the threshold falls (scikit-learn’s average precision, no interpolation). Compare with the churn rate, which is what random ranking scores.'],
  ['Precision / recall / F1', 'At the model’s threshold (contact when score ≥ threshold): precision = churners among the contacted, recall = share of all churners contacted, F1 = their harmonic mean.'],
  ['Brier score', 'Mean squared difference between score and outcome (0 or 1): lower is better, and it punishes scores that are confidently wrong.'],
  ['Calibration', 'Rows in ten equal-width score bins; per bin the mean score against the observed churn rate. A calibrated model’s points lie on the diagonal.'],
  ['Lift', 'Rows sorted by score and cut into ten equal groups; a decile’s churn rate divided by the overall churn rate.'],
  ['Contacted / churners caught', 'Rows at or above the threshold, and how many of them churned (true positives).'],
  ['Expected customers saved', 'Churners caught × save rate: the share of contacted churners a retention offer keeps.'],
  ['Campaign cost', 'Contacted × contact cost.'],
  ['Revenue saved', 'Expected customers saved × churner loss.'],
  ['Net value', 'Revenue saved − campaign cost (the trainer tunes the model’s threshold to maximise it on its validation period).'],
  ['ROI', 'Net value / campaign cost: what each unit spent on contacts returns on top of itself.'],
  ['Best grid threshold', 'The grid threshold with the highest net value on this period — known only in hindsight, an upper bound for what a threshold choice could have earned.'],
];

export function renderReportHtml(report: BacktestReport): string {
  const charts = reportCharts(report);
  const byKey = new Map(charts.main.map((c) => [c.key, c]));
  const pair = (a: string, b: string) => `<div class="grid2">${figure(byKey.get(a)!)}${figure(byKey.get(b)!)}</div>`;
  const labels = report.models.map((m) => m.label).join(' vs ');
  const d = report.data;
  const generated = report.generatedAt ? ` · generated ${e(report.generatedAt)}` : '';
  const perModel = (f: (i: number) => string, layout = 'tables') => `<div class="${layout}">${report.models.map((_, i) => `<div>${f(i)}</div>`).join('')}</div>`;
  const body = [
    `<header><h1>Churn backtest: ${e(labels)}</h1><p class="sub">Observation dates ${e(d.observations.first ?? '—')} to ${e(d.observations.last ?? '—')} · ${formatNumber(d.rows)} rows · ${d.horizonDays}-day churn horizon${generated}</p></header>`,
    `<section class="summary" id="summary"><h2>Summary</h2><ul>${report.summary
      .map((s, i) => `<li${i === 0 ? ' class="headline"' : ''}>${e(s)}</li>`)
      .join('')}</ul>${cards(report)}</section>`,
    `<section id="models"><h2>Models side by side</h2>${modelsTable(report)}</section>`,
    `<section id="economics"><h2>Campaign economics</h2>${pair('net', 'roi')}${perModel((i) => businessTable(report.models[i]!), 'stack')}</section>`,
    `<section id="ranking"><h2>Ranking quality</h2>${pair('roc', 'pr')}</section>`,
    `<section id="calibration"><h2>Calibration and lift</h2>${pair('calibration', 'lift')}${perModel((i) => liftTable(report.models[i]!))}${perModel((i) => calibrationTable(report.models[i]!))}</section>`,
    `<section id="distributions"><h2>Score distributions</h2><div class="grid2">${charts.distributions.map(figure).join('')}</div></section>`,
    `<section id="data"><h2>Data and settings</h2>${dataTable(report)}</section>`,
    `<section id="glossary"><h2>What the numbers mean</h2><dl class="glossary">${GLOSSARY.map(([t, text]) => `<dt>${e(t)}</dt><dd>${e(text)}</dd>`).join('')}</dl></section>`,
    `<footer>churnflow backtest · ${e(report.format)} · every number on this page is in report.json beside it</footer>`,
  ];
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>Churn backtest: ${e(labels)}</title>`,
    `<style>${REPORT_CSS}</style>`,
    '</head>',
    `<body><main>${body.join('\n')}</main></body>`,
    '</html>',
    '',
  ].join('\n');
}
