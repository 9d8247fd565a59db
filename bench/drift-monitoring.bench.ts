// Drift monitoring: (1) its cost on the embedded pipeline (file → decode → validate → event time →
// aggregate → features → ONNX score) with no monitor, with every scored event fed to the monitor, and
// with the recommended feed (every event's score for the label join + all customers' rows as of each
// midnight for drift); (2) detection quality on simulated customers: delay after injected drift, and
// false alarms on a stationary stream (another seed), against a reference rebased on a warmed-up
// period of a third seed, and what the bundled manifest's own reference flags on stationary data.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { concatMap, count, lastValueFrom } from 'rxjs';
import type { DriftMetricRecord } from '../src/events/wire-types.js';
import { DEFAULT_VALIDATION_RULES } from '../src/events/validate-event.js';
import { DriftMonitor } from '../src/monitoring/drift-monitor.js';
import { observationSample } from '../src/monitoring/drift/observation-sample.js';
import { rebaseReference } from '../src/monitoring/drift/rebase-reference.js';
import { aggregateBatch } from '../src/operators/apply-to-state.js';
import { decodeRecords } from '../src/operators/decode-records.js';
import { microBatch } from '../src/operators/micro-batch.js';
import { routeLateEvents } from '../src/operators/route-late-events.js';
import { scoreBatch } from '../src/operators/score-steps.js';
import { validateEvents } from '../src/operators/validate-events.js';
import { loadScoringModel } from '../src/scoring/scoring-model.js';
import { ActivityCodec } from '../src/serde/activity-codec.js';
import { recordToNdjson, resolveSimulatorOptions, simulate, simulationEndTime, type SimulatorOptions } from '../src/simulator/index.js';
import { createFileSource } from '../src/sources/file-source.js';
import { FlowControl } from '../src/sources/flow-control.js';
import { MemoryStateStore } from '../src/state/memory-store.js';
import { fixedClock } from '../src/time/clock.js';
import { churnSpec, simulatedDays } from '../test/unit/monitoring/simulated-observations.js';
import { measure, report } from './harness.js';
import { BUNDLED_MODEL } from '../src/scoring/bundled-model.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DAY = 86_400_000;
const HOUR = 3_600_000;
const LATENESS = HOUR;
const spec = churnSpec();
const model = await loadScoringModel(BUNDLED_MODEL, spec);
const codec = new ActivityCodec();

// ---- (1) cost on the pipeline --------------------------------------------------------------------
const sim = resolveSimulatorOptions({ customers: 600, days: 120, seed: 5 });
const dir = mkdtempSync(join(tmpdir(), 'cf-bench-drift-'));
const file = join(dir, 'events.ndjson');
const lines = [...simulate(sim)].map(recordToNdjson);
writeFileSync(file, `${lines.join('\n')}\n`);
const N = lines.length;
const clock = fixedClock(simulationEndTime(sim));
type Feed = 'none' | 'per-event' | 'observation';
const lastRecords: Record<Feed, DriftMetricRecord[]> = { none: [], 'per-event': [], observation: [] };

async function pipeline(feed: Feed): Promise<void> {
  const flow = new FlowControl(4096);
  const store = new MemoryStateStore({ layout: spec.layout });
  const monitor = feed === 'none' ? undefined : new DriftMonitor(spec.columns, model.manifest, { windowMs: DAY, slideMs: HOUR });
  const records: DriftMetricRecord[] = [];
  let maxTime = Number.NEGATIVE_INFINITY;
  let nextMidnight: number | undefined;
  await lastValueFrom(
    createFileSource(file, clock).records(flow).pipe(
      decodeRecords(codec),
      validateEvents(DEFAULT_VALIDATION_RULES, clock),
      routeLateEvents({ allowedLatenessMs: LATENESS }),
      microBatch({ maxSize: 512, maxWaitMs: 20 }),
      concatMap(async (items) => {
        const scored = await scoreBatch(await aggregateBatch(items, store, spec), model);
        if (monitor) {
          const steps = scored.steps;
          const eventTimes = steps.map((s) => s.item.event.eventTime);
          const customerIds = steps.map((s) => s.item.event.customerId);
          for (const t of eventTimes) if (t > maxTime) maxTime = t;
          const batch = { rows: steps.map((s) => s.features), scores: scored.scores, eventTimes, customerIds, model: scored.model.manifest };
          if (feed === 'per-event') monitor.observe(batch);
          else monitor.observeScores(batch);
          monitor.observeLabels(steps.filter((s) => spec.isLabelEvent(s.item.event)).map((s) => ({ customerId: s.item.event.customerId, eventTime: s.item.event.eventTime })));
          const watermark = maxTime - LATENESS;
          nextMidnight ??= (Math.floor(watermark / DAY) + 1) * DAY;
          while (feed === 'observation' && watermark >= nextMidnight) {
            // the recommended drift feed: every customer's row as of midnight (the training population), scored
            const states = [];
            for await (const page of store.scan(2000)) states.push(...page);
            const sample = observationSample(spec, states, nextMidnight, { isGone: (id, t) => monitor.isGone(id, t) });
            monitor.observeSample({ ...sample, scores: await model.scoreFeatures(sample.rows) });
            nextMidnight += DAY;
          }
          records.push(...monitor.advance(watermark));
        }
        flow.release(items.length);
      }),
      count(),
    ),
  );
  lastRecords[feed] = records;
}

const none = await measure('pipeline, no drift monitor', N, RUNS, () => pipeline('none'));
const perEvent = await measure('+ monitor fed every scored event (rows and scores)', N, RUNS, () => pipeline('per-event'));
const observation = await measure('+ monitor: event scores + all rows as of each midnight', N, RUNS, () => pipeline('observation'));
report(`drift monitoring cost: ${N.toLocaleString('en-US')} records (${sim.customers} customers × ${sim.days} days), batch 512, window 1 d every 1 h`, [none, perEvent, observation], none, 'event');

/** Share of drift windows (of length windowMs, ending at or after fromTime) in which each feature has a statistic at alert severity. */
function alertRates(records: readonly DriftMetricRecord[], fromTime: number, windowMs = DAY): [string, number][] {
  const windows = new Set<number>();
  const hits = new Map<string, Set<number>>();
  for (const r of records) {
    if (r.window_end - r.window_start !== windowMs || r.window_end < fromTime || r.statistic === 'retraining_trigger' || r.subject === 'performance' || r.subject.startsWith('score_bin')) continue;
    windows.add(r.window_end);
    if (r.severity !== 'alert') continue;
    const s = hits.get(r.subject) ?? new Set<number>();
    s.add(r.window_end);
    hits.set(r.subject, s);
  }
  return [...hits].map(([k, s]): [string, number] => [k, s.size / Math.max(1, windows.size)]).sort((a, b) => b[1] - a[1]);
}
const warm = sim.startTime + 100 * DAY; // 90-day windows are full from day 90 on
const fmt = (rates: [string, number][]) => rates.slice(0, 14).map(([k, v]) => `${k} ${(100 * v).toFixed(0)}%`).join(', ') || 'none';
console.log(`\nalert rate per feature vs the bundled reference, hourly-sliding 1-day windows after day 100, stationary stream:`);
console.log(`  per-event rows:   ${fmt(alertRates(lastRecords['per-event'], warm))}`);
console.log(`  observation rows: ${fmt(alertRates(lastRecords.observation, warm))}`);

// ---- (2) detection quality ------------------------------------------------------------------------
const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 2000);
const DRIFT_DAY = 120;
const TRENDING = new Set(['days_since_last_support']);
const t0 = performance.now();
const refRows: Float64Array[] = [];
const refScores: number[] = [];
const refIds: string[] = [];
for await (const d of simulatedDays({ customers: CUSTOMERS, days: 131, seed: 101 }, { firstDay: 100, everyDays: 3, model })) {
  refRows.push(...d.sample.rows);
  refScores.push(...d.scores);
  refIds.push(...d.sample.customerIds);
}
const ref = rebaseReference(model.manifest, spec.columns, refRows, Float64Array.from(refScores), refIds);

interface Window {
  day: number;
  records: DriftMetricRecord[];
}
interface Scheme {
  readonly name: string;
  readonly windowDays: number;
  /** Observe each customer every n-th day (rolling panel); 1 = every customer every day. */
  readonly rotationDays: number;
}
const SCHEMES: readonly Scheme[] = [
  { name: '7-day windows sliding daily, a seventh of the customers observed each midnight', windowDays: 7, rotationDays: 7 },
  { name: '1-day windows, every customer observed each midnight', windowDays: 1, rotationDays: 1 },
];
async function daily(scheme: Scheme, options: Partial<SimulatorOptions>, firstDay: number, manifests: { manifest: typeof model.manifest; rows?: number }[]): Promise<Window[][]> {
  const monitors = manifests.map((m) => new DriftMonitor(spec.columns, m.manifest, { windowMs: scheme.windowDays * DAY, slideMs: DAY, evaluationEveryMs: DAY, ...(m.rows ? { referenceRows: m.rows } : {}) }));
  const out: Window[][] = monitors.map(() => []);
  for await (const d of simulatedDays(options, { firstDay: firstDay - scheme.windowDays + 1, model, rotationDays: scheme.rotationDays })) {
    monitors.forEach((m, k) => {
      m.observeLabels(d.labels);
      m.observe({ rows: d.sample.rows, scores: d.scores, eventTimes: d.sample.eventTimes, customerIds: d.sample.customerIds, categories: d.sample.categories });
      const records = m.advance(d.asOf + DAY);
      if (d.day >= firstDay) out[k]!.push({ day: d.day, records });
    });
  }
  return out;
}
const alerted = (w: Window) => [...new Set(w.records.filter((r) => r.severity === 'alert' && r.statistic !== 'retraining_trigger' && r.subject !== 'performance' && !TRENDING.has(r.subject)).map((r) => r.subject))];
const find = (w: Window, subject: string, statistic: string) => w.records.find((r) => r.subject === subject && r.statistic === statistic);
const delay = (ws: readonly Window[], ok: (w: Window) => boolean) => {
  const w = ws.find((x) => x.day > DRIFT_DAY && ok(x));
  return w === undefined ? 'not flagged' : `${w.day - DRIFT_DAY}`;
};
const summarise = (noisy: readonly Window[]) => {
  const by = new Map<string, number>();
  for (const w of noisy) for (const f of alerted(w)) by.set(f, (by.get(f) ?? 0) + 1);
  return [...by].sort((a, b) => b[1] - a[1]).map(([f, n]) => `${f} ×${n}`).join(', ');
};

console.log(`\ndetection quality, ${CUSTOMERS} customers; reference rebased on seed 101 days 100–130 (${ref.rows} independent rows, every customer every 3rd day)`);
for (const scheme of SCHEMES) {
  console.log(`  ${scheme.name}:`);
  const [stationary, stationaryBundled] = await daily(scheme, { customers: CUSTOMERS, days: 220, seed: 202 }, 100, [ref, { manifest: model.manifest }]);
  const noisy = stationary!.filter((w) => alerted(w).length > 0);
  const triggers = stationary!.flatMap((w) => w.records.filter((r) => r.statistic === 'retraining_trigger'));
  const recall = stationary!.flatMap((w) => w.records.filter((r) => r.subject === 'performance' && r.statistic === 'recall' && r.sample_size >= 30).map((r) => r.value));
  console.log(`    stationary (seed 202, windows ending days 101–220): ${noisy.length}/${stationary!.length} windows with any alert (${((100 * noisy.length) / stationary!.length).toFixed(1)}%)${noisy.length ? ` — ${summarise(noisy)}` : ''}; retraining triggers: ${triggers.map((r) => r.subject).join(', ') || 'none'} (left out as trending: ${[...TRENDING].join(', ')})`);
  if (recall.length) console.log(`    stationary rolling recall (28-day windows with ≥ 30 labels): ${Math.min(...recall).toFixed(3)} … ${Math.max(...recall).toFixed(3)} vs validation ${model.manifest.metrics.validation.recall?.toFixed(3)} (concept-drift line ${(0.8 * (model.manifest.metrics.validation.recall ?? 0)).toFixed(3)})`);
  console.log(`    bundled reference on the same stationary stream, alert rate per feature: ${fmt(alertRates(stationaryBundled!.flatMap((w) => w.records), 0, scheme.windowDays * DAY))}`);
  const [drifted] = await daily(scheme, { customers: CUSTOMERS, days: 150, seed: 303, drift: { fromDay: DRIFT_DAY, loginFactor: 0.5, newPlan: 'family', newPlanShare: 0.3 } }, 110, [ref]);
  const pre = drifted!.filter((w) => w.day <= DRIFT_DAY);
  console.log(`    drift (seed 303, logins × 0.5 and new plan 'family' from day ${DRIFT_DAY}): pre-drift windows with alerts ${pre.filter((w) => alerted(w).length > 0).length}/${pre.length}; windows (days) until`);
  console.log(`      logins_7d PSI alert ${delay(drifted!, (w) => find(w, 'logins_7d', 'psi')?.severity === 'alert')}, logins_7d KS alert ${delay(drifted!, (w) => find(w, 'logins_7d', 'ks')?.severity === 'alert')}, data-drift trigger ${delay(drifted!, (w) => w.records.some((r) => r.statistic === 'retraining_trigger' && r.subject === 'data_drift'))}, new plan seen ${delay(drifted!, (w) => (find(w, 'plan=family', 'new_category_count')?.value ?? 0) > 0)}, new plan alert ${delay(drifted!, (w) => find(w, 'plan', 'new_category_count')?.severity === 'alert')}, score PSI alert ${delay(drifted!, (w) => find(w, 'score', 'psi')?.severity === 'alert')}, predicted-positive rate alert ${delay(drifted!, (w) => find(w, 'predicted_positive_rate', 'rate')?.severity === 'alert')}`);
}
console.log(`  (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
await model.close();
