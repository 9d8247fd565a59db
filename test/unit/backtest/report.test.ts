import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildBacktestReport, type ReportInput } from '../../../src/backtest/backtest-report.js';
import { formatNumber, formatPercent, formatSigned, formatThreshold } from '../../../src/backtest/format-number.js';
import { renderReportHtml } from '../../../src/backtest/report-html.js';
import { reportJson, toSnakeKeys } from '../../../src/backtest/report-json.js';
import { niceDomain, ticks } from '../../../src/backtest/svg-scale.js';
import { thinCurve } from '../../../src/backtest/thin-curve.js';
import { Prng } from '../../../src/simulator/prng.js';

function input(labels: string[], noise: number[], n = 2000): ReportInput {
  const rng = new Prng(11, 5);
  const rows = Array.from({ length: n }, (_, i) => ({ customerId: `c${i % 400}`, observationTime: Date.UTC(2025, 1, 1) + Math.floor(i / 400) * 7 * 86_400_000 }));
  const risk = rows.map(() => rng.next() ** 3);
  const y = Uint8Array.from(risk, (r) => (rng.next() < r ? 1 : 0));
  const scores = noise.map((k) => Float64Array.from(risk, (r) => Math.min(1, Math.max(0, r + k * (rng.next() - 0.5)))));
  return {
    rows,
    labels: y,
    scores,
    models: labels.map((label, i) => ({ label, dir: `models/${label}`, name: 'm', version: '1.0.0', featureSpecHash: 'sha256:x', threshold: 0.2 + 0.05 * i, trainerValidation: { roc_auc: 0.8 } })),
    costs: { contactCost: 10, churnerLoss: 600, saveRate: 0.3 },
    costsSource: 'test',
    gridStep: 0.01,
    generatedAt: null,
    data: {
      source: { kind: 'file', path: 'events.ndjson' },
      featureSpec: { name: 'churn_default', hash: 'sha256:x' },
      horizonDays: 30,
      period: { from: null, to: null },
      observations: { everyDays: 7, warmupDays: 30 },
      replay: { records: 1, applied: 1, deadLettered: 0, late: 0, beforeSignup: 0, unlabelledRows: 0, rowsOutsidePeriod: 0 },
    },
  };
}

test('the summary names the net value winner and the margin; identical models tie', () => {
  const r = buildBacktestReport(input(['sharp', 'noisy'], [0, 0.8]));
  const [a, b] = r.models;
  assert.ok(a!.rocAuc! > b!.rocAuc!);
  const win = r.comparison.netValueAtModelThreshold;
  const best = win.order[0]!;
  assert.equal(win.winner, best);
  const values = Object.fromEntries(win.values.map((v) => [v.label, v.value!]));
  assert.equal(win.margin, values[best]! - values[win.runnerUp!]!);
  assert.match(r.summary[0]!, new RegExp(`^${best} wins on net value at its own threshold: ${formatNumber(values[best])} against ${formatNumber(values[win.runnerUp!])}`));
  assert.equal(r.data.rows, 2000);
  assert.equal(r.data.customers, 400);
  assert.equal(r.data.observations.dates, 5);

  // The same scores under two names: identical metrics, a tie on net value.
  const one = input(['x'], [0.2]);
  const same = buildBacktestReport({ ...one, scores: [one.scores[0]!, one.scores[0]!], models: ['x', 'y'].map((label) => ({ ...one.models[0]!, label })) });
  const [x, y] = same.models;
  assert.deepEqual({ ...x!, label: '', dir: '' }, { ...y!, label: '', dir: '' });
  assert.equal(same.comparison.netValueAtModelThreshold.winner, null);
  // Same scores, another threshold: the threshold-free numbers and the grid agree, the decision differs.
  const other = buildBacktestReport({ ...one, scores: [one.scores[0]!, one.scores[0]!], models: [one.models[0]!, { ...one.models[0]!, label: 'y', threshold: 0.4 }] });
  assert.equal(other.models[0]!.rocAuc, other.models[1]!.rocAuc);
  assert.deepEqual(other.models[0]!.business.grid, other.models[1]!.business.grid);
  assert.notDeepEqual(other.models[0]!.atThreshold, other.models[1]!.atThreshold);
  assert.match(same.summary[0]!, /^x and y tie on net value/);
});

test('a single model gets its own sentence; no rows is an error', () => {
  const r = buildBacktestReport(input(['only'], [0.3]));
  assert.match(r.summary[0]!, /^At its own threshold, only contacts/);
  assert.throws(() => buildBacktestReport({ ...input(['a'], [0]), rows: [], labels: new Uint8Array(0), scores: [new Float64Array(0)] }), /no labelled rows/);
});

test('report.json: snake_case keys, deterministic bytes, every number finite or null', () => {
  const r = buildBacktestReport(input(['a', 'b'], [0.1, 0.5]));
  const text = reportJson(r);
  assert.equal(text, reportJson(buildBacktestReport(input(['a', 'b'], [0.1, 0.5]))));
  const keys: string[] = [];
  JSON.parse(text, (k, v: unknown) => {
    keys.push(k);
    if (typeof v === 'number') assert.ok(Number.isFinite(v));
    return v;
  });
  assert.ok(keys.includes('roc_auc') && keys.includes('at_model_threshold') && keys.includes('net_value_at_model_threshold'));
  assert.ok(keys.every((k) => !/[A-Z]/.test(k)), 'no camelCase keys');
  assert.deepEqual(toSnakeKeys({ rocAuc: [{ prAuc: 1 }] }), { roc_auc: [{ pr_auc: 1 }] });
});

test('report.html: self-contained (no scripts, links or remote URLs), every chart present, labels escaped', () => {
  const r = buildBacktestReport(input(['<b>a</b>', 'b & c'], [0.1, 0.5]));
  const html = renderReportHtml(r);
  assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\((?!#)/i);
  const urls = html.match(/https?:\/\/[^\s"')<]+/g) ?? [];
  assert.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg'], 'only the SVG namespace');
  for (const key of ['net', 'roi', 'roc', 'pr', 'calibration', 'lift', 'distribution-0', 'distribution-1']) assert.match(html, new RegExp(`data-chart="${key}"`));
  assert.ok(!html.includes('<b>a</b>'));
  assert.ok(html.includes('&lt;b&gt;a&lt;/b&gt;'));
  assert.equal(html, renderReportHtml(r), 'deterministic');
});

test('number formatting is locale-free', () => {
  assert.equal(formatNumber(1234567.891), '1,234,568');
  assert.equal(formatNumber(-1234.5, 1), '−1,234.5');
  assert.equal(formatNumber(-0.0001), '0');
  assert.equal(formatNumber(null), '—');
  assert.equal(formatNumber(Number.NaN), '—');
  assert.equal(formatSigned(2560), '+2,560');
  assert.equal(formatSigned(-3), '−3');
  assert.equal(formatSigned(0), '0');
  assert.equal(formatPercent(0.0545), '5.5%');
  assert.equal(formatThreshold(0.06569370627403259), '0.0657');
  assert.equal(formatThreshold(0.5), '0.5');
});

test('axes: nice domains and ticks; curves thinned for drawing keep their ends', () => {
  assert.deepEqual(niceDomain(0, 0.87), { min: 0, max: 1 });
  assert.deepEqual(ticks({ min: 0, max: 1 }), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceDomain(-1234, 56789), { min: -20000, max: 60000 });
  assert.deepEqual(ticks({ min: 0, max: 0.3 }, 6), [0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3]);
  assert.deepEqual(niceDomain(5, 5), { min: 4.4, max: 5.6 });
  const pts = Array.from({ length: 10_001 }, (_, i) => ({ x: i / 10_000, y: Math.sqrt(i / 10_000) }));
  const thin = thinCurve(pts, 1 / 400);
  assert.ok(thin.length < 600 && thin.length > 100, `${thin.length} points`);
  assert.deepEqual(thin[0], pts[0]);
  assert.deepEqual(thin[thin.length - 1], pts[pts.length - 1]);
});
