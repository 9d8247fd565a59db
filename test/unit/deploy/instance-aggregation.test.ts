// Several engines export the same metrics, each with its own `instance` label: every churnflow metric a
// dashboard panel or an alert rule reads must be aggregated over instances — counters and histogram
// parts rated before they are summed, histogram buckets summed by le, the lag deduplicated per
// partition before it is summed (the old and the new owner both report a partition mid-rebalance),
// store-wide gauges (every instance reports the same shared store) never summed — or be kept per
// instance on purpose, said in the expression itself with `by (instance)`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

const AGGREGATIONS = new Set(['sum', 'max', 'min', 'avg', 'count', 'group', 'stddev', 'stdvar', 'topk', 'bottomk', 'quantile', 'count_values']);
const RATES = new Set(['rate', 'irate', 'increase']);
/** Gauges each instance reports for the shared store or model: the same number N times; summing them multiplies it. */
const FLEET_WIDE_GAUGES = new Set(['churnflow_state_customers', 'churnflow_state_bytes_per_customer', 'churnflow_model_info', 'churnflow_model_age_days']);
/** Per partition: reported by its owner, briefly by two owners during a rebalance. */
const PER_PARTITION_GAUGES = new Set(['churnflow_consumer_lag']);

interface Frame {
  readonly kind: 'aggregation' | 'call' | 'group';
  readonly name?: string;
  readonly by?: readonly string[];
  readonly without?: readonly string[];
}

export interface MetricUse {
  readonly metric: string;
  /** Enclosing frames, innermost last. */
  readonly frames: readonly Frame[];
}

/** Each churnflow metric in a PromQL expression with the aggregations and calls around it. */
export function metricUses(expr: string): MetricUse[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ');
  if (/\)\s*(by|without)\s*\(/.test(s)) throw new Error(`write aggregations as 'sum by (…) (…)', not 'sum(…) by (…)': ${expr}`);
  const uses: MetricUse[] = [];
  const stack: Frame[] = [];
  const token = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:(by|without)\s*\(([^)]*)\)\s*)?(\()?|(\()|(\))/g;
  for (let m = token.exec(s); m; m = token.exec(s)) {
    const [, ident, modifier, labels, open, bareOpen, close] = m;
    if (close) stack.pop();
    else if (bareOpen) stack.push({ kind: 'group' });
    else if (ident && open) {
      const list = (labels ?? '').split(',').map((l) => l.trim()).filter(Boolean);
      if (AGGREGATIONS.has(ident)) stack.push({ kind: 'aggregation', name: ident, ...(modifier === 'by' ? { by: list } : modifier === 'without' ? { without: list } : {}) });
      else stack.push({ kind: 'call', name: ident });
    } else if (ident && ident.startsWith('churnflow_')) uses.push({ metric: ident, frames: [...stack] });
  }
  return uses;
}

const dropsInstance = (f: Frame) => f.kind === 'aggregation' && (f.without ? f.without.includes('instance') : !(f.by ?? []).includes('instance'));
const keepsInstance = (f: Frame) => f.kind === 'aggregation' && (f.by ?? []).includes('instance');

/** What is wrong with one use, or undefined; 'per-instance' when the expression keeps instances apart on purpose. */
export function judge(use: MetricUse): string | 'per-instance' | undefined {
  const { metric, frames } = use;
  const aggIndex = frames.findLastIndex((f) => f.kind === 'aggregation');
  if (aggIndex < 0) return `${metric} is not aggregated: one series per instance (write 'by (instance)' if that is the point)`;
  const inner = frames[aggIndex]!;
  if (keepsInstance(inner)) return 'per-instance';
  if (!frames.some(dropsInstance)) return `${metric} is never aggregated over instance`;
  const isCounterPart = /_(total|bucket|sum|count)$/.test(metric);
  if (isCounterPart && !frames.slice(aggIndex + 1).some((f) => f.kind === 'call' && RATES.has(f.name!))) return `${metric}: rate() or increase() it before ${inner.name} (a sum of raw counters jumps whenever an instance restarts)`;
  if (metric.endsWith('_bucket') && !(inner.by ?? []).includes('le')) return `${metric}: sum buckets by (le) so the quantile is of the whole fleet`;
  if (PER_PARTITION_GAUGES.has(metric) && !(inner.by ?? []).includes('partition')) return `${metric}: take max by (topic, partition) first, then sum (a partition reported by two instances mid-rebalance would count twice)`;
  if (FLEET_WIDE_GAUGES.has(metric) && frames.some((f) => f.kind === 'aggregation' && f.name === 'sum')) return `${metric}: every instance reports the shared value; max it, never sum`;
  return undefined;
}

function expressions(): { where: string; expr: string }[] {
  const alerts = parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as { groups: { name: string; rules: { alert?: string; expr: string }[] }[] };
  const out = alerts.groups.flatMap((g) => g.rules.map((r) => ({ where: `alerts.yml ${r.alert}`, expr: r.expr })));
  const d = JSON.parse(readFileSync('deploy/grafana/churnflow-dashboard.json', 'utf8')) as { panels: { title: string; targets?: { expr?: string }[]; panels?: { title: string; targets?: { expr?: string }[] }[] }[] };
  for (const p of d.panels.flatMap((p) => [p, ...(p.panels ?? [])])) for (const t of p.targets ?? []) if (t.expr) out.push({ where: `dashboard "${p.title}"`, expr: t.expr });
  return out;
}

test('the checker: aggregation frames, rates, le, per-partition lag, fleet-wide gauges, explicit per-instance', () => {
  const j = (e: string) => metricUses(e).map(judge);
  assert.deepEqual(j('histogram_quantile(0.99, sum by (le) (rate(churnflow_x_seconds_bucket{a="b"}[5m])))'), [undefined]);
  assert.match(String(j('histogram_quantile(0.99, sum (rate(churnflow_x_seconds_bucket[5m])))')[0]), /by \(le\)/);
  assert.match(String(j('sum(churnflow_events_processed_total)')[0]), /rate\(\)/);
  assert.match(String(j('rate(sum(churnflow_events_processed_total)[5m:])')[0]), /rate\(\)/);
  assert.equal(j('sum by (kind) (rate(churnflow_events_processed_total[5m]))')[0], undefined);
  assert.match(String(j('sum by (topic) (churnflow_consumer_lag)')[0]), /partition/);
  assert.equal(j('sum by (topic) (max by (topic, partition) (churnflow_consumer_lag))')[0], undefined);
  assert.match(String(j('sum(churnflow_state_customers)')[0]), /never sum/);
  assert.equal(j('max by (instance) (churnflow_fallback_active)')[0], 'per-instance');
  assert.match(String(j('churnflow_lifecycle_state == 5')[0]), /not aggregated/);
  assert.equal(j('sum without (instance) (rate(churnflow_scores_total[5m]))')[0], undefined);
  assert.match(String(j('sum without (pod) (rate(churnflow_scores_total[5m]))')[0]), /never aggregated/);
  assert.throws(() => metricUses('sum(rate(churnflow_scores_total[5m])) by (scorer)'), /sum by/);
});

test('every churnflow metric in the dashboard and the alert rules is aggregated over instances correctly, or per instance on purpose', () => {
  const uses = expressions().flatMap(({ where, expr }) => metricUses(expr).map((u) => ({ where, u, verdict: judge(u) })));
  assert.ok(uses.length > 50, `${uses.length} metric uses`);
  const wrong = uses.filter((x) => x.verdict !== undefined && x.verdict !== 'per-instance').map((x) => `${x.where}: ${x.verdict}`);
  assert.deepEqual(wrong, [], `\n  ${wrong.join('\n  ')}`);
  // The per-instance views are the ones meant to be per instance: health, resources, the worst watermark.
  const perInstance = [...new Set(uses.filter((x) => x.verdict === 'per-instance').map((x) => x.u.metric))].sort();
  assert.deepEqual(perInstance, ['churnflow_fallback_active', 'churnflow_lifecycle_state', 'churnflow_process_process_cpu_seconds_total', 'churnflow_process_process_resident_memory_bytes', 'churnflow_watermark_lag_seconds']);
});
