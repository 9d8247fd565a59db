// The report's charts as chart specs: ROC and precision–recall curves, calibration, lift, net value
// and ROI against the threshold (all models on one chart each), and a score distribution per model.
import type { BacktestReport } from './backtest-report.js';
import type { ModelEvaluation } from './evaluate-model.js';
import { formatNumber, formatPercent, formatRatio, formatThreshold } from './format-number.js';
import type { ChartSpec, Point, Series } from './svg-chart.js';
import { niceDomain } from './svg-scale.js';

/** Okabe–Ito colours (distinguishable with colour-blindness); the dash pattern tells identical curves apart. */
const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9'];
const DASHES = [undefined, '8 5', '2 4', '10 4 2 4'];
const GREY = '#6b7280';

export function modelStyle(index: number): { color: string; dash?: string; hollow?: boolean } {
  const dash = DASHES[index % DASHES.length];
  return { color: COLORS[index % COLORS.length]!, ...(dash ? { dash } : {}), ...(index % 2 === 1 ? { hollow: true } : {}) };
}

/** A model's threshold marker: its colour, a ring for every other model. */
function markerStyle(index: number): { color: string; hollow?: boolean } {
  const s = modelStyle(index);
  return { color: s.color, ...(s.hollow ? { hollow: true } : {}) };
}

export interface NamedChart {
  readonly key: string;
  readonly heading: string;
  /** One or two sentences on how to read it. */
  readonly caption: string;
  readonly spec: ChartSpec;
}

const unit = { min: 0, max: 1 };
const pct0 = (v: number) => formatPercent(v, 0);
const ratio1 = (v: number) => formatRatio(v, 1);

/** Upper end of the threshold axis: the grid threshold above which every model contacts under 1% of rows (rounded up to 0.1). */
export function thresholdAxisMax(report: BacktestReport): number {
  const limit = report.data.rows * 0.01;
  let max = 0;
  for (const m of report.models) {
    const row = m.business.grid.find((r) => r.contacted <= limit);
    max = Math.max(max, row ? row.threshold : 1, m.threshold);
  }
  return Math.min(1, Math.ceil(max * 10 - 1e-9) / 10 || 0.1);
}

function thresholdPoint(m: ModelEvaluation): { fpr: number; tpr: number } {
  const t = m.atThreshold;
  return { fpr: t.fp + t.tn === 0 ? 0 : t.fp / (t.fp + t.tn), tpr: t.recall };
}

function rocChart(report: BacktestReport): NamedChart {
  const series: Series[] = [];
  report.models.forEach((m, i) => {
    const s = modelStyle(i);
    series.push({ name: `${m.label} (AUC ${formatRatio(m.rocAuc)})`, color: s.color, points: m.curves.roc, style: 'line', ...(s.dash ? { dash: s.dash } : {}) });
  });
  report.models.forEach((m, i) => {
    const p = thresholdPoint(m);
    series.push({ name: `${m.label} at its threshold`, ...markerStyle(i), points: [[p.fpr, p.tpr]], style: 'markers', titles: [`${m.label}: threshold ${formatThreshold(m.threshold)}, false positive rate ${formatPercent(p.fpr)}, recall ${formatPercent(p.tpr)}`] });
  });
  return {
    key: 'roc',
    heading: 'ROC curve',
    caption: 'Share of churners caught (true positive rate) against share of non-churners contacted (false positive rate) as the threshold falls. Higher and further left is better; the diagonal is random ranking.',
    spec: { id: 'roc', title: 'ROC curve', xLabel: 'false positive rate (non-churners contacted)', yLabel: 'true positive rate (churners caught)', x: unit, y: unit, xFormat: pct0, yFormat: pct0, series, references: [{ kind: 'diagonal', color: GREY, dash: '4 4', label: 'random (AUC 0.5)' }] },
  };
}

/** Precision as a step function of recall, the shape average precision integrates. */
function prSteps(curve: readonly (readonly [number, number])[]): Point[] {
  const out: Point[] = [];
  let prevRecall = 0;
  for (const [recall, precision] of curve) {
    out.push([prevRecall, precision], [recall, precision]);
    prevRecall = recall;
  }
  return out;
}

function prChart(report: BacktestReport): NamedChart {
  const series: Series[] = [];
  report.models.forEach((m, i) => {
    const s = modelStyle(i);
    series.push({ name: `${m.label} (AP ${formatRatio(m.prAuc)})`, color: s.color, points: prSteps(m.curves.pr), style: 'line', ...(s.dash ? { dash: s.dash } : {}) });
  });
  report.models.forEach((m, i) => {
    const t = m.atThreshold;
    series.push({ name: `${m.label} at its threshold`, ...markerStyle(i), points: [[t.recall, t.precision]], style: 'markers', titles: [`${m.label}: threshold ${formatThreshold(m.threshold)}, recall ${formatPercent(t.recall)}, precision ${formatPercent(t.precision)}`] });
  });
  return {
    key: 'pr',
    heading: 'Precision–recall curve',
    caption: 'Of the customers contacted, the share who would have churned (precision), against the share of all churners caught (recall). The dashed line is the churn rate: what contacting at random achieves.',
    spec: {
      id: 'pr',
      title: 'Precision–recall curve',
      xLabel: 'recall (share of churners caught)',
      yLabel: 'precision (churners among contacted)',
      x: unit,
      y: unit,
      xFormat: pct0,
      yFormat: pct0,
      series,
      references: [{ kind: 'y', value: report.data.churnRate ?? 0, color: GREY, dash: '4 4', label: `random (churn rate ${formatPercent(report.data.churnRate)})` }],
    },
  };
}

function calibrationChart(report: BacktestReport): NamedChart {
  const series: Series[] = report.models.map((m, i) => {
    const s = modelStyle(i);
    const bins = m.calibration.filter((b) => b.rows > 0);
    return {
      name: m.label,
      color: s.color,
      ...(s.hollow ? { hollow: true } : {}),
      style: 'line-markers',
      points: bins.map((b) => [b.meanPredicted!, b.observedRate!] as const),
      titles: bins.map((b) => `${m.label}, scores ${formatRatio(b.lower, 1)}–${formatRatio(b.upper, 1)}: ${formatNumber(b.rows)} rows, mean score ${formatRatio(b.meanPredicted)}, observed churn ${formatRatio(b.observedRate)}`),
      ...(s.dash ? { dash: s.dash } : {}),
    };
  });
  return {
    key: 'calibration',
    heading: 'Calibration',
    caption: 'Ten equal-width score bins: mean predicted score against the churn rate observed in the bin. On the diagonal, a score of 0.3 means a 30% chance of churning. Hover a point for its row count.',
    spec: { id: 'calibration', title: 'Calibration', xLabel: 'mean predicted churn probability', yLabel: 'observed churn rate', x: unit, y: unit, xFormat: ratio1, yFormat: ratio1, series, references: [{ kind: 'diagonal', color: GREY, dash: '4 4', label: 'perfectly calibrated' }] },
  };
}

function liftChart(report: BacktestReport): NamedChart {
  const series: Series[] = report.models.map((m, i) => {
    const s = modelStyle(i);
    const rows = m.lift.filter((r) => r.lift !== null);
    return {
      name: m.label,
      color: s.color,
      ...(s.hollow ? { hollow: true } : {}),
      style: 'line-markers',
      points: rows.map((r) => [r.decile, r.lift!] as const),
      titles: rows.map((r) => `${m.label}, decile ${r.decile}: ${formatNumber(r.churners)} of ${formatNumber(r.rows)} churned (${formatPercent(r.churnRate)}), lift ${formatRatio(r.lift, 2)}`),
      ...(s.dash ? { dash: s.dash } : {}),
    };
  });
  const maxLift = Math.max(1, ...report.models.flatMap((m) => m.lift.map((r) => r.lift ?? 0)));
  return {
    key: 'lift',
    heading: 'Lift by score decile',
    caption: 'Rows ranked by score and cut into tenths (1 = riskiest). Lift is the decile’s churn rate over the overall rate: 3 means three times as many churners as a random tenth.',
    spec: {
      id: 'lift',
      title: 'Lift by score decile',
      xLabel: 'score decile (1 = highest scores)',
      yLabel: 'lift (× overall churn rate)',
      x: { min: 0.5, max: 10.5 },
      y: niceDomain(0, maxLift),
      xTickValues: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      xFormat: (v) => String(v),
      yFormat: (v) => formatRatio(v, 1),
      series,
      references: [{ kind: 'y', value: 1, color: GREY, dash: '4 4', label: 'no lift' }],
    },
  };
}

function businessChart(report: BacktestReport, key: 'net' | 'roi'): NamedChart {
  const xMax = thresholdAxisMax(report);
  const value = (r: ModelEvaluation['business']['grid'][number]) => (key === 'net' ? r.netValue : r.roi);
  const series: Series[] = [];
  const ys: number[] = [0];
  report.models.forEach((m, i) => {
    const s = modelStyle(i);
    // The grid plus the model's own threshold, so its marker sits on its line.
    const rows = [...m.business.grid.filter((r) => r.threshold !== m.threshold), m.business.atModelThreshold].sort((x, y) => x.threshold - y.threshold);
    const pts = rows.filter((r) => r.threshold <= xMax + 1e-12 && value(r) !== null).map((r) => [r.threshold, value(r)!] as const);
    ys.push(...pts.map((p) => p[1]));
    series.push({ name: m.label, color: s.color, points: pts, style: 'line', ...(s.dash ? { dash: s.dash } : {}) });
  });
  report.models.forEach((m, i) => {
    const b = m.business.atModelThreshold;
    const v = value(b);
    if (v === null) return;
    ys.push(v);
    series.push({
      name: `${m.label} at its threshold`,
      ...markerStyle(i),
      points: [[m.threshold, v]],
      style: 'markers',
      titles: [`${m.label}: threshold ${formatThreshold(m.threshold)}, contacts ${formatNumber(b.contacted)}, catches ${formatNumber(b.churnersCaught)}, net value ${formatNumber(b.netValue)}, ROI ${formatPercent(b.roi, 0)}`],
    });
  });
  const c = report.costs;
  const costs = `contact cost ${formatNumber(c.contactCost, 2)}, churner loss ${formatNumber(c.churnerLoss, 2)}, save rate ${formatPercent(c.saveRate, 0)}`;
  const net = key === 'net';
  return {
    key,
    heading: net ? 'Net value by threshold' : 'Return on campaign cost by threshold',
    caption: net
      ? `Contact everyone scoring at or above the threshold: net value = churners caught × save rate × churner loss − contacted × contact cost (${costs}). Dots mark each model’s own threshold. The axis stops where fewer than 1% of rows would be contacted.`
      : `ROI = net value / campaign cost. High thresholds contact few, mostly real churners (high ROI, small total); the net value chart shows the total.`,
    spec: {
      id: key,
      title: net ? 'Net value by threshold' : 'ROI by threshold',
      xLabel: 'threshold (contact when score ≥ threshold)',
      yLabel: net ? 'net value' : 'ROI (net value / cost)',
      x: { min: 0, max: xMax },
      y: niceDomain(Math.min(...ys), Math.max(...ys)),
      xFormat: (v) => formatRatio(v, 2),
      yFormat: net ? (v) => formatNumber(v) : pct0,
      series,
      references: [{ kind: 'y', value: 0, color: GREY }],
    },
  };
}

function distributionChart(m: ModelEvaluation, index: number): NamedChart {
  const h = m.scoreHistogram;
  const steps = (shares: readonly number[]): Point[] => shares.flatMap((v, i) => [[h.edges[i]!, v] as const, [h.edges[i + 1]!, v] as const]);
  const maxShare = Math.max(0.01, ...h.churnerShare, ...h.nonChurnerShare);
  const churners = h.churners.reduce((a, b) => a + b, 0);
  const others = h.nonChurners.reduce((a, b) => a + b, 0);
  return {
    key: `distribution-${index}`,
    heading: `Score distribution: ${m.label}`,
    caption: `Share of churners (${formatNumber(churners)}) and of non-churners (${formatNumber(others)}) in each score bin of width ${formatRatio(h.edges[1] ?? 0, 2)}. The less the two overlap, the better the model separates them; the dashed line is the model’s threshold.`,
    spec: {
      id: `distribution-${index}`,
      title: `Score distribution: ${m.label}`,
      xLabel: 'score',
      yLabel: 'share of group',
      x: unit,
      y: niceDomain(0, maxShare),
      xFormat: ratio1,
      yFormat: pct0,
      series: [
        { name: 'non-churners', color: '#0072B2', points: steps(h.nonChurnerShare), style: 'area', width: 1.5 },
        { name: 'churners', color: '#D55E00', points: steps(h.churnerShare), style: 'area', width: 1.5 },
      ],
      references: [{ kind: 'x', value: m.threshold, color: '#111827', dash: '5 3', label: `threshold ${formatThreshold(m.threshold)}` }],
    },
  };
}

export function reportCharts(report: BacktestReport): { main: NamedChart[]; distributions: NamedChart[] } {
  return {
    main: [businessChart(report, 'net'), businessChart(report, 'roi'), rocChart(report), prChart(report), calibrationChart(report), liftChart(report)],
    distributions: report.models.map(distributionChart),
  };
}
