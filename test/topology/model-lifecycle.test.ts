// The model lifecycle on the embedded path: hot swap between batches (nothing dropped, nothing scored
// twice), the registry watcher picking up a rollback, fallback rules and recovery, shadow and canary
// scoring of the candidate, experiment arms, TreeSHAP reasons, and automatic rollback through the
// whole engine (createEngine) on a file registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/config-schema.js';
import { DEFAULT_EMIT_POLICY } from '../../src/config/decision-options.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { ChurnflowError } from '../../src/errors.js';
import type { CurrentRiskRecord, DriftMetricRecord, RiskEventRecord } from '../../src/events/wire-types.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { createLogger } from '../../src/observability/logger.js';
import { LifecycleScorer } from '../../src/operators/score-steps.js';
import { FileAliasStore } from '../../src/registry/file-alias-store.js';
import { ModelRegistry } from '../../src/registry/model-registry.js';
import { experimentArm, inShare } from '../../src/scoring/assignment.js';
import { BUNDLED_MODEL } from '../../src/scoring/bundled-model.js';
import { createFallbackScorer } from '../../src/scoring/fallback-scorer.js';
import { ModelHandle } from '../../src/scoring/model-handle.js';
import { ModelWatcher } from '../../src/scoring/model-watcher.js';
import { loadScoringModel, type ScoringModel } from '../../src/scoring/scoring-model.js';
import { recordToNdjson, resolveSimulatorOptions, simulate, simulationEndTime, type SimulatorOptions } from '../../src/simulator/index.js';
import { createSimulatorSource } from '../../src/sources/simulator-source.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { fixedClock, ManualClock } from '../../src/time/clock.js';
import { ENGINE_DECISION, readNdjson, runScoring, type ScoringRun } from '../helpers/run-scoring.js';
import { tempRegistry } from '../helpers/registry.js';

const OTHER_MODEL = 'models/churn-gbdt/1.0.0';
const spec = compileSpec(DEFAULT_CHURN_SPEC, { allowedLatenessMs: 3_600_000 });
const sim = resolveSimulatorOptions({ customers: 150, days: 45, seed: 41 });
const now = simulationEndTime(sim);
const EVERY = { risk: { ...DEFAULT_EMIT_POLICY, emit: 'every' as const } };
const silent = createLogger({ level: 'silent' });
const fallbackConfig = configSchema.parse({}).fallback;

const gate = { spec, policy: configSchema.parse({}).model.promotion };

// Handles close the models they replace; the shared test models stay open until the end.
const keep = (m: ScoringModel): ScoringModel => ({ ...m, close: async () => {} });
const prodModel = await loadScoringModel(BUNDLED_MODEL, spec, { explain: true });
const otherModel = await loadScoringModel(OTHER_MODEL, spec);
const prod = keep(prodModel);
const other = keep(otherModel);

/** An engine (createEngine) over a file of simulated records, its outputs in a fresh folder; `overrides` replace top-level config keys. */
async function fileEngine(simulation: SimulatorOptions, overrides: Record<string, unknown>): Promise<{ dir: string; engine: Engine }> {
  const dir = mkdtempSync(join(tmpdir(), 'cf-engine-'));
  const input = join(dir, 'events.ndjson');
  writeFileSync(input, `${[...simulate(simulation)].map(recordToNdjson).join('\n')}\n`);
  const config = configSchema.parse({ source: { kind: 'file', file: input }, sinks: { kind: 'file', dir }, http: { enabled: false }, validation: { maxFutureMs: 365 * 86_400_000 }, ...overrides });
  return { dir, engine: await createEngine(config, { logger: silent, clock: fixedClock(now) }) };
}

function lifecycle(handle: ModelHandle, extra: Partial<ConstructorParameters<typeof LifecycleScorer>[0]> = {}): LifecycleScorer {
  return new LifecycleScorer({ handle, clock: fixedClock(now), retryAfterMs: 1000, shadow: false, ...extra });
}

function handleWith(production: ScoringModel | undefined, candidate?: ScoringModel): ModelHandle {
  const h = new ModelHandle();
  h.set('production', production);
  if (candidate) h.set('candidate', candidate);
  return h;
}

const run = (scoring: LifecycleScorer, options: Parameters<typeof runScoring>[5] = EVERY) =>
  runScoring(createSimulatorSource(sim, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, prod, now, { batch: { maxSize: 64, maxWaitMs: 1 }, ...options }, { scoring });

/** Every accepted (non-duplicate) event is scored exactly once. */
function assertEachOnce(r: ScoringRun): void {
  const ids = r.scored.map((s) => s.eventId);
  assert.equal(new Set(ids).size, ids.length, 'no event scored twice');
}

test('hot swap between batches: every event scored exactly once, by the old model before the swap and the new one after', async () => {
  const onlyA = await run(lifecycle(handleWith(prod)));
  const onlyB = await run(lifecycle(handleWith(other)));
  const handle = handleWith(prod);
  let batches = 0;
  // A promote lands while the stream runs: after the 20th batch scored, the handle switches models.
  const swapping = lifecycle(handle, { hooks: { onScored: () => void (++batches === 20 && handle.set('production', other)) } });
  const swapped = await run(swapping);

  assertEachOnce(swapped);
  assert.deepEqual(swapped.scored.map((s) => s.eventId), onlyA.scored.map((s) => s.eventId), 'the same events, in the same order: none dropped');
  const versions = swapped.scored.map((s) => s.version);
  const switchAt = versions.indexOf(other.manifest.version);
  assert.ok(switchAt > 0 && versions.slice(switchAt).every((v) => v === other.manifest.version) && versions.slice(0, switchAt).every((v) => v === prod.manifest.version), 'one switch, never back');
  for (let i = 0; i < versions.length; i++) {
    const expected = i < switchAt ? onlyA.scored[i]!.score : onlyB.scored[i]!.score;
    assert.equal(swapped.scored[i]!.score, expected, `step ${i}: the score of the model in force`);
  }
  // emit 'every': one risk event per scored step, carrying the version that scored it
  assert.equal(swapped.risk.length, swapped.scored.length);
  assert.deepEqual(swapped.risk.map((e) => e.model_version), versions);
});

test('the registry watcher picks up a rollback while the stream runs, with nothing dropped or scored twice', async () => {
  const root = tempRegistry(['1.0.0', '1.1.0']);
  const store = new FileAliasStore({ root });
  const registry = new ModelRegistry({ root, aliases: store });
  const actor = 'test';
  await registry.promote('churn-gbdt', '1.0.0', { alias: 'production', reason: 'first', actor, gate });
  await registry.promote('churn-gbdt', '1.1.0', { alias: 'production', reason: 'second', actor, gate });
  const handle = new ModelHandle();
  const watcher = new ModelWatcher({ store, bundleDir: (v) => registry.bundleDir('churn-gbdt', v), name: 'churn-gbdt', slots: { production: 'production' }, spec, handle, clock: fixedClock(now), pollIntervalMs: 100, logger: silent });
  await watcher.start();
  assert.equal(handle.get('production')?.manifest.version, '1.1.0');
  let batches = 0;
  let rolledBack = false;
  const scoring = lifecycle(handle, {
    hooks: {
      onScored: () => {
        if (++batches === 10) void registry.rollback('churn-gbdt', { reason: 'test rollback', actor }).then(() => (rolledBack = true));
      },
    },
  });
  // Paced so the stream outlives a few polls of the alias.
  const paced = createSimulatorSource(sim, fixedClock(now), { eventsPerSecond: 8000 });
  const r = await runScoring(paced, new MemoryStateStore({ layout: spec.layout }), spec, prod, now, { batch: { maxSize: 64, maxWaitMs: 5 }, ...EVERY }, { scoring });
  await watcher.stop();
  assert.ok(rolledBack);
  assertEachOnce(r);
  const versions = r.scored.map((s) => s.version);
  const switchAt = versions.indexOf('1.0.0');
  assert.ok(switchAt > 0 && versions.slice(switchAt).every((v) => v === '1.0.0'), `switched to 1.0.0 once (at step ${switchAt} of ${versions.length})`);
  assert.deepEqual((await store.read('churn-gbdt')).aliases, { production: '1.0.0' });
  await handle.close();
  await store.close();
});

test('fallback: when production cannot score, the rules score (scorer fallback, reasons = matched rules); the model takes over again after retryAfterMs', async () => {
  let failing = true;
  const broken: ScoringModel = {
    ...prod,
    scoreFeatures: (rows) => (failing ? Promise.reject(new ChurnflowError('CF_SCORING_FAILED', 'session lost', { retriable: false })) : prod.scoreFeatures(rows)),
    close: async () => {},
  };
  const clock = new ManualClock(now);
  const changes: boolean[] = [];
  let errors = 0;
  let batches = 0;
  const scoring = new LifecycleScorer({
    handle: handleWith(broken),
    clock,
    retryAfterMs: 60_000,
    shadow: false,
    fallback: createFallbackScorer(fallbackConfig, spec.columns),
    hooks: {
      onFallback: (active) => changes.push(active),
      onScoringError: () => errors++,
      onScored: () => batches++,
    },
  });
  // The model recovers after 15 batches; the clock moves a minute per batch so it is retried.
  let seen = 0;
  const r = await runScoring(
    createSimulatorSource(sim, fixedClock(now)),
    new MemoryStateStore({ layout: spec.layout }),
    spec,
    prod,
    now,
    { batch: { maxSize: 64, maxWaitMs: 1 }, ...EVERY, decision: ENGINE_DECISION },
    {
      scoring: {
        score: async (batch) => {
          clock.advance(61_000);
          if (++seen === 15) failing = false;
          return scoring.score(batch);
        },
      },
    },
  );
  assert.deepEqual(changes, [true, false], 'fallback on once, off once');
  assert.ok(errors >= 1);
  const fallback = r.risk.filter((e) => e.scorer === 'fallback');
  const model = r.risk.filter((e) => e.scorer === 'model');
  assert.ok(fallback.length > 100 && model.length > 100, `${fallback.length} fallback, ${model.length} model events`);
  assert.ok(fallback.every((e) => e.model_name === 'fallback-rules' && e.model_version === '1'));
  const firstModel = r.risk.findIndex((e) => e.scorer === 'model');
  assert.ok(r.risk.slice(firstModel).every((e) => e.scorer === 'model'), 'back on the model for good');
  assert.equal(r.risk.length, r.scored.length, 'every event still scored');
  const ruled = fallback.filter((e) => e.reasons.length > 0);
  assert.ok(ruled.every((e) => e.score >= 0.39 && fallbackConfig.rules.some((rule) => rule.feature === e.reasons[0]!.feature)), 'reasons name the matched rules');
  assert.ok(fallback.some((e) => e.reasons.length === 0 && Math.abs(e.score - fallbackConfig.baseScore) < 1e-6), 'no rule matched: base score');
});

test('fallback: a model swapped in while the rules score is tried at once, not after retryAfterMs', async () => {
  const broken: ScoringModel = { ...prod, scoreFeatures: () => Promise.reject(new ChurnflowError('CF_SCORING_FAILED', 'bad bundle', { retriable: false })), close: async () => {} };
  const handle = handleWith(broken);
  let batches = 0;
  const scoring = new LifecycleScorer({
    handle,
    clock: fixedClock(now), // time stands still: retryAfterMs never passes
    retryAfterMs: 3_600_000,
    shadow: false,
    fallback: createFallbackScorer(fallbackConfig, spec.columns),
  });
  const r = await runScoring(createSimulatorSource(sim, fixedClock(now)), new MemoryStateStore({ layout: spec.layout }), spec, prod, now, { batch: { maxSize: 64, maxWaitMs: 1 }, ...EVERY }, {
    scoring: { score: async (b) => (++batches === 10 && handle.set('production', prod), scoring.score(b)) },
  });
  const firstModel = r.risk.findIndex((e) => e.scorer === 'model');
  assert.ok(firstModel > 0 && r.risk.slice(0, firstModel).every((e) => e.scorer === 'fallback') && r.risk.slice(firstModel).every((e) => e.scorer === 'model'));
});

test('fallback without any production model: the rules score from the start', async () => {
  const r = await run(lifecycle(handleWith(undefined), { fallback: createFallbackScorer(fallbackConfig, spec.columns) }));
  assert.ok(r.risk.length > 0 && r.risk.every((e) => e.scorer === 'fallback'));
});

test('a fallback rule on a feature the spec lacks is a config error naming the key', () => {
  assert.throws(() => createFallbackScorer({ ...fallbackConfig, rules: [{ feature: 'days_since_last_logon', op: '>', value: 1, score: 0.5 }] }, spec.columns), /fallback\.rules\[0\]\.feature: 'days_since_last_logon' is not a feature/);
});

test('shadow: the candidate scores every step to its own output; production risk events are unchanged', async () => {
  const plain = await run(lifecycle(handleWith(prod)), { batch: { maxSize: 64, maxWaitMs: 1 }, risk: DEFAULT_EMIT_POLICY });
  const shadowed = await run(lifecycle(handleWith(prod, other), { shadow: true }), { batch: { maxSize: 64, maxWaitMs: 1 }, risk: DEFAULT_EMIT_POLICY });
  const strip = (e: RiskEventRecord) => ({ ...e, processing_time: 0 });
  assert.deepEqual(shadowed.risk.map(strip), plain.risk.map(strip), 'campaign consumers see exactly what they saw without shadow');
  assert.ok(shadowed.risk.every((e) => e.model_version === prod.manifest.version));
  assert.ok(shadowed.shadow.length > 100 && shadowed.shadow.every((e) => e.model_version === other.manifest.version));
  assert.deepEqual(plain.shadow, []);
});

test('canary: exactly the customers in the share (stable hash of id and salt) are scored by the candidate', async () => {
  const canary = { share: 0.3, salt: 'canary-test' };
  const r = await run(lifecycle(handleWith(prod, other), { canary }));
  const byCustomer = new Map<string, Set<string>>();
  for (const e of r.risk) byCustomer.set(e.customer_id, (byCustomer.get(e.customer_id) ?? new Set()).add(e.model_version));
  let inCanary = 0;
  for (const [id, versions] of byCustomer) {
    const expected = inShare(id, canary.salt, canary.share) ? other.manifest.version : prod.manifest.version;
    if (expected === other.manifest.version) inCanary++;
    assert.deepEqual([...versions], [expected], id);
  }
  const share = inCanary / byCustomer.size;
  assert.ok(share > 0.18 && share < 0.42, `canary share ${share} of ${byCustomer.size} customers`);
});

test('experiment arms: each customer keeps one arm, treatment share as configured (binomial bounds), another salt reshuffles', async () => {
  const experiment = { salt: 'exp-a', treatmentShare: 0.8 };
  const r = await run(lifecycle(handleWith(prod)), { batch: { maxSize: 64, maxWaitMs: 1 }, ...EVERY, decision: { experiment } });
  const arms = new Map<string, string>();
  for (const e of r.risk) {
    assert.ok(e.experiment_arm === 'treatment' || e.experiment_arm === 'control');
    assert.equal(arms.get(e.customer_id) ?? e.experiment_arm, e.experiment_arm, 'stable per customer');
    arms.set(e.customer_id, e.experiment_arm!);
  }
  const ids = Array.from({ length: 20_000 }, (_, i) => `c${i}`);
  const treated = ids.filter((id) => experimentArm(id, 'exp-a', 0.8) === 'treatment').length / ids.length;
  assert.ok(Math.abs(treated - 0.8) < 4 * Math.sqrt((0.8 * 0.2) / ids.length), `treatment share ${treated}`);
  const moved = ids.filter((id) => experimentArm(id, 'exp-a', 0.5) !== experimentArm(id, 'exp-b', 0.5)).length / ids.length;
  assert.ok(Math.abs(moved - 0.5) < 0.03, `another salt moves half the customers: ${moved}`);
});

test('reasons: risk events at or above the threshold carry the top 3 TreeSHAP features pushing the score up; below it none', async () => {
  const r = await run(lifecycle(handleWith(prod)), { batch: { maxSize: 64, maxWaitMs: 1 }, ...EVERY, decision: ENGINE_DECISION });
  const above = r.risk.filter((e) => e.above_threshold);
  assert.ok(above.length > 50);
  for (const e of above) {
    assert.equal(e.reasons.length, 3, e.event_id);
    assert.ok(e.reasons.every((x, i) => x.contribution > 0 && (i === 0 || x.contribution <= e.reasons[i - 1]!.contribution)));
    assert.ok(e.reasons.every((x) => spec.columns.some((c) => c.name === x.feature || c.feature === x.feature)));
  }
  assert.ok(r.risk.filter((e) => !e.above_threshold).every((e) => e.reasons.length === 0));
});

test('automatic rollback through the engine: scores far from the reference roll production back, leave a record and switch models', async () => {
  const root = tempRegistry(['1.0.0', '1.1.0']);
  const store = new FileAliasStore({ root });
  const registry = new ModelRegistry({ root, aliases: store });
  await registry.promote('churn-gbdt', '1.0.0', { alias: 'production', reason: 'first', actor: 'test', gate });
  await registry.promote('churn-gbdt', '1.1.0', { alias: 'production', reason: 'second', actor: 'test', gate });
  await store.close();
  // Per-event scores are far from the manifest's observation-row reference: a tiny PSI limit trips it.
  const { dir, engine } = await fileEngine(sim, {
    engine: { risk: { emit: 'every' }, batch: { maxSize: 64, maxWaitMs: 1 } },
    model: { registry: { dir: root, pollIntervalMs: 100 }, rollback: { enabled: true, minScores: 500, maxScorePsi: 0.001 } },
  });
  await engine.run();
  const aliases = JSON.parse(readFileSync(join(root, 'churn-gbdt', 'aliases.json'), 'utf8')) as { aliases: { production: string }; history: { action: string; reason: string; actor: string }[] };
  assert.equal(aliases.aliases.production, '1.0.0');
  const last = aliases.history.at(-1)!;
  assert.equal(last.action, 'rollback');
  assert.match(last.reason, /^automatic: score_psi .* > 0\.001 over \d+ \(latest scores\) of churn-gbdt@1\.1\.0$/);
  assert.match(last.actor, /^churnflow-engine@/);
  const records = readNdjson<DriftMetricRecord>(join(dir, 'drift.ndjson'));
  assert.deepEqual(records.map((d) => [d.subject, d.statistic, d.model_version, d.severity]), [['model_rollback', 'score_psi', '1.1.0', 'alert']]);
  const risk = readNdjson<RiskEventRecord>(join(dir, 'risk-events.ndjson'));
  const versions = risk.map((e) => e.model_version);
  const switchAt = versions.indexOf('1.0.0');
  assert.ok(switchAt > 0 && versions.slice(switchAt).every((v) => v === '1.0.0'), 'switched to the rolled-back-to version and stayed');
  assert.equal(new Set(risk.map((e) => e.trigger_event_id)).size, risk.length, 'no event scored twice');
  // Every series also carries the engine's instance label.
  assert.match(await engine.metrics.registry.getSingleMetricAsString('churnflow_model_rollbacks_total'), /\{reason="score_psi",instance="[^"]+"\} 1$/m);
});

test('an engine on the candidate alias (model.alias: candidate) scores with the candidate', async () => {
  const root = tempRegistry(['1.1.0', '1.2.0']);
  const store = new FileAliasStore({ root });
  const registry = new ModelRegistry({ root, aliases: store });
  await registry.promote('churn-gbdt', '1.1.0', { reason: 'prod', actor: 'test', gate });
  await registry.promote('churn-gbdt', '1.2.0', { alias: 'candidate', reason: 'cand', actor: 'test', gate });
  await store.close();
  const { dir, engine } = await fileEngine(resolveSimulatorOptions({ customers: 40, days: 20, seed: 44 }), { model: { alias: 'candidate', registry: { dir: root } } });
  assert.equal(engine.models.get('production')?.manifest.version, '1.2.0');
  await engine.run();
  const risk = readNdjson<RiskEventRecord>(join(dir, 'risk-events.ndjson'));
  assert.ok(risk.length > 0 && risk.every((e) => e.model_version === '1.2.0' && e.scorer === 'model'));
});

test('GET /customers/:id/risk answers with the customer\'s current risk — the last current-risk record, from its latest published risk event — 404 for an unknown one', async () => {
  const { dir, engine } = await fileEngine(resolveSimulatorOptions({ customers: 30, days: 15, seed: 45 }), { http: { port: 0 } });
  let answers: { status: number; body: Record<string, unknown> }[] = [];
  await engine.run(undefined, async () => {
    const ask = async (id: string) => {
      const res = await fetch(`${engine.httpUrl}/customers/${id}/risk`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    answers = [await ask('c000003'), await ask('nobody')];
  });
  const risk = readNdjson<RiskEventRecord>(join(dir, 'risk-events.ndjson')).filter((e) => e.customer_id === 'c000003');
  const last = risk.at(-1)!;
  // The lookup and the current-risk output (the compacted topic's file form) show the same record: the last published one.
  const current = readNdjson<CurrentRiskRecord>(join(dir, 'current-risk.ndjson')).filter((r) => r.customer_id === 'c000003');
  assert.equal(current.length, risk.length, 'one current-risk record per risk event');
  assert.deepEqual(answers[0], { status: 200, body: current.at(-1) });
  assert.deepEqual(current.at(-1), { customer_id: 'c000003', score: last.score, band: last.band, model_name: last.model_name, model_version: last.model_version, event_time: last.event_time, risk_event_id: last.event_id });
  assert.equal(answers[1]!.status, 404);
});

test.after(async () => {
  await prodModel.close();
  await otherModel.close();
});
