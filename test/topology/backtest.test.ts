// `churnflow backtest` end to end on 300 simulated customers × 90 days, the bundle against a copy with
// another threshold: the snapshot's rows, consistent numbers, identical metrics, spec refusal, determinism.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backtestCommand, runBacktest } from '../../src/cli/backtest.js';
import { ChurnflowError } from '../../src/errors.js';
import type { ActivityEventJson } from '../../src/events/wire-types.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { resolveSimulatorOptions, simulate, simulationEndTime } from '../../src/simulator/index.js';
import { runSnapshot } from '../helpers/run-snapshot.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { simulatorBacktest } from '../helpers/backtest.js';

const BUNDLE = BUNDLED_MODEL;
const SIM = { customers: 300, days: 90, seed: 5 };
const work = mkdtempSync(join(tmpdir(), 'cf-backtest-'));

/** A copy of the bundle with another threshold (same ONNX, same spec hash). */
function bundleWith(dir: string, edit: (manifest: Record<string, unknown> & { decision: { threshold: number; bands: { name: string; min_score: number }[] } }) => void): string {
  const out = join(work, dir);
  cpSync(BUNDLE, out, { recursive: true });
  const path = join(out, 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  edit(manifest);
  writeFileSync(path, JSON.stringify(manifest, null, 2));
  return out;
}
const stricter = bundleWith('stricter', (m) => {
  m.decision.threshold = 0.15;
  m.decision.bands = [{ name: 'low', min_score: 0 }, { name: 'medium', min_score: 0.075 }, { name: 'high', min_score: 0.15 }];
});

const cliArgs = (out: string) => ['--model', `a=${BUNDLE}`, '--model', `b=${stricter}`, '--customers', String(SIM.customers), '--days', String(SIM.days), '--seed', String(SIM.seed), '--out', out];

interface Row {
  threshold: number;
  contacted: number;
  churners_caught: number;
  expected_saved: number;
  campaign_cost: number;
  revenue_saved: number;
  net_value: number;
  roi: number | null;
}
interface ModelJson {
  label: string;
  threshold: number;
  roc_auc: number;
  pr_auc: number;
  brier: number;
  at_threshold: { tp: number; fp: number; fn: number; tn: number; precision: number; recall: number };
  calibration: { rows: number; churners: number }[];
  lift: { rows: number; churners: number }[];
  business: { at_model_threshold: Row; best_on_grid: Row; grid: Row[] };
  score_histogram: unknown;
  curves: unknown;
}
interface ReportJson {
  summary: string[];
  data: { rows: number; churners: number; customers: number; observations: { first: string; dates: number }; replay: { rows_outside_period: number } };
  costs: { contact_cost: number; churner_loss: number; save_rate: number };
  models: ModelJson[];
  comparison: { net_value_at_model_threshold: { winner: string | null } };
}

async function runCli(out: string): Promise<{ json: string; html: string }> {
  await backtestCommand().parseAsync(cliArgs(out), { from: 'user' });
  return { json: readFileSync(join(out, 'report.json'), 'utf8'), html: readFileSync(join(out, 'report.html'), 'utf8') };
}

test('backtest: report files, consistent numbers, the snapshot rows, identical scores → identical metrics', async () => {
  const out = join(work, 'run1');
  const { json, html } = await runCli(out);
  assert.ok(existsSync(join(out, 'report.json')) && existsSync(join(out, 'report.html')));
  assert.match(html, /^<!DOCTYPE html>/);
  const r = JSON.parse(json) as ReportJson;

  // Exactly the rows `churnflow snapshot` makes from the same history and schedule.
  const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
  const sim = resolveSimulatorOptions(SIM);
  const events: ActivityEventJson[] = [];
  for (const rec of simulate(sim)) if (rec.type === 'event') events.push(rec.event);
  const snap = await runSnapshot(events, spec, simulationEndTime(sim), { everyDays: 7, warmupDays: 30 });
  assert.equal(r.data.rows, snap.rows.length);
  assert.equal(r.data.churners, snap.rows.filter((x) => x.label === 1).length);
  assert.ok(r.data.rows > 500 && r.data.churners > 10, `rows ${r.data.rows}, churners ${r.data.churners}`);

  const { contact_cost: cost, churner_loss: loss, save_rate: save } = r.costs;
  assert.deepEqual([cost, loss, save], [10, 600, 0.3], "the manifest's costs by default");
  for (const m of r.models) {
    const t = m.at_threshold;
    assert.equal(t.tp + t.fp + t.fn + t.tn, r.data.rows);
    assert.equal(t.tp + t.fn, r.data.churners);
    assert.equal(m.business.at_model_threshold.contacted, t.tp + t.fp);
    assert.equal(m.business.at_model_threshold.churners_caught, t.tp);
    assert.equal(m.calibration.reduce((a, b) => a + b.rows, 0), r.data.rows);
    assert.equal(m.lift.reduce((a, b) => a + b.rows, 0), r.data.rows);
    assert.equal(m.lift.reduce((a, b) => a + b.churners, 0), r.data.churners);
    assert.ok(m.roc_auc > 0.6 && m.roc_auc <= 1, `ROC-AUC ${m.roc_auc}`);
    let previous = Infinity;
    for (const row of [...m.business.grid, m.business.at_model_threshold]) {
      assert.ok(row.churners_caught <= row.contacted && row.churners_caught <= r.data.churners && row.contacted <= r.data.rows);
      assert.equal(row.expected_saved, row.churners_caught * save);
      assert.equal(row.revenue_saved, row.expected_saved * loss);
      assert.equal(row.campaign_cost, row.contacted * cost);
      assert.equal(row.net_value, row.churners_caught * save * loss - row.contacted * cost);
      assert.equal(row.roi, row.campaign_cost === 0 ? null : row.net_value / row.campaign_cost);
    }
    for (const row of m.business.grid) {
      assert.ok(row.contacted <= previous, 'contacted falls as the threshold rises');
      previous = row.contacted;
    }
    assert.equal(m.business.best_on_grid.net_value, Math.max(...m.business.grid.map((g) => g.net_value)));
  }

  // Same ONNX model under two thresholds: everything that does not depend on the threshold is equal.
  const [a, b] = r.models as [ModelJson, ModelJson];
  assert.deepEqual([a.label, b.label, a.threshold, b.threshold], ['a', 'b', a.threshold, 0.15]);
  for (const k of ['roc_auc', 'pr_auc', 'brier', 'calibration', 'lift', 'score_histogram', 'curves'] as const) assert.deepEqual(a[k], b[k], k);
  assert.deepEqual(a.business.grid, b.business.grid);
  assert.ok(b.at_threshold.tp + b.at_threshold.fp < a.at_threshold.tp + a.at_threshold.fp, 'the stricter threshold contacts fewer');
  const winner = r.comparison.net_value_at_model_threshold.winner;
  assert.ok(winner === 'a' || winner === 'b');
  assert.match(r.summary[0]!, new RegExp(`^${winner} wins on net value at its own threshold`));
});

test('determinism: two runs write byte-identical report.json and report.html', async () => {
  const first = await runCli(join(work, 'det1'));
  const second = await runCli(join(work, 'det2'));
  assert.equal(second.json, first.json);
  assert.equal(second.html, first.html);
  assert.doesNotMatch(first.json, /"generated_at": "/, 'no timestamp unless pinned');
});

const base = simulatorBacktest(SIM);

test('a bundle trained on another feature spec is refused with the engine error, before any replay', async () => {
  const foreign = bundleWith('foreign', (m) => {
    m['feature_spec_hash'] = `sha256:${'0'.repeat(64)}`;
  });
  await assert.rejects(
    runBacktest({ ...base, models: [{ dir: BUNDLE }, { dir: foreign }], outDir: join(work, 'refused') }),
    (e: unknown) => e instanceof ChurnflowError && e.code === 'CF_MODEL_SPEC_MISMATCH' && /trained on feature spec sha256:0+/.test(e.message),
  );
  assert.ok(!existsSync(join(work, 'refused')));
});

test('period, costs and a pinned generated-at time', async () => {
  const all = await runBacktest({ ...base, models: [{ dir: BUNDLE }], outDir: join(work, 'all') });
  const from = Date.parse(`${all.report.data.observations.first}T00:00:00Z`) + 7 * 86_400_000;
  const r = await runBacktest({
    ...base,
    models: [{ dir: BUNDLE }, { dir: BUNDLE }],
    from,
    to: null,
    costs: { contactCost: 5, churnerLoss: 900 },
    generatedAt: '2026-01-01T00:00:00.000Z',
    outDir: join(work, 'period'),
  });
  assert.deepEqual(r.report.models.map((m) => m.label), ['churn-gbdt@1.1.0', 'churn-gbdt@1.1.0 #2']);
  assert.equal(r.report.data.observations.first, new Date(from).toISOString().slice(0, 10));
  assert.equal(r.report.data.observations.dates, all.report.data.observations.dates - 1);
  assert.equal(r.report.data.rows + r.report.data.replay.rowsOutsidePeriod, all.report.data.rows);
  assert.deepEqual(r.report.costs, { contactCost: 5, churnerLoss: 900, saveRate: 0.3, source: 'command line, the rest from the manifest of churn-gbdt@1.1.0' });
  assert.equal(r.report.comparison.netValueAtModelThreshold.winner, null, 'the same bundle twice ties');
  assert.match(readFileSync(r.jsonPath, 'utf8'), /"generated_at": "2026-01-01T00:00:00.000Z"/);
  assert.match(readFileSync(r.htmlPath, 'utf8'), /generated 2026-01-01T00:00:00.000Z/);
});
