// The multi-instance run: one simulated activity topic (≥ 6 partitions), produced live over a fixed
// time (paceMs) and consumed meanwhile by an uninterrupted single engine (the reference) and by each
// fleet scenario — two and three `churnflow run` engines in one consumer group that join, leave by
// SIGTERM and die by kill -9 — each with its own group, Redis key prefix and risk topic. Produced at
// once, the stream was consumed in seconds on a quick machine and most steps came after the group
// had caught up (idle engines); live, every step lands while events are still arriving, whatever the
// machine. Every scenario's risk topic and Redis state are compared with the reference's, id for id
// and customer for customer.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTopics, produceSimulatedPaced } from '../helpers/kafka.js';
import { assertScriptManaged, uniqueName } from '../helpers/services.js';
import { compareRisk, type RiskComparison } from './compare-risk.js';
import type { StateComparison } from './compare-state.js';
import { EngineFleet } from './engine-fleet.js';
import { cleanUp, compareRedisStates, DAYS, killOnExit, readRisk, runConfig, simulateAtLeast } from './fault-run.js';
import { checkScenario, type FleetScenario } from './fleet-plan.js';
import { waitForOffsets, type WaitBounds } from './wait-for-offsets.js';
import { groupProgress } from '../helpers/engine-process.js';

export interface FleetOptions {
  readonly events: number;
  readonly partitions: number;
  readonly seed: number;
  readonly timeoutMs: number;
  readonly stallMs: number;
  /** The stream is produced over this long (in 60 slices), while every group consumes it. */
  readonly paceMs: number;
  readonly scenarios: readonly FleetScenario[];
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly risk: RiskComparison;
  readonly state: StateComparison;
  readonly anomalies: readonly string[];
  /** Per engine process started (role-number): the partitions it owned after each group join, from its log. */
  readonly assignments: ReadonlyMap<string, readonly number[][]>;
  readonly seconds: number;
  /** What each engine still running at the end exported on /metrics. */
  readonly metrics: readonly InstanceMetrics[];
  /** Steps carried out after the group had committed every event (a run too short for its plan). */
  readonly idleSteps: number;
  /** The scenario's full membership was reached while events were still to be committed. */
  readonly peakMidStream: boolean;
}

export interface InstanceMetrics {
  readonly role: string;
  /** churnflow_* series in its /metrics. */
  readonly series: number;
  /** Of those, the ones whose instance label is not the role (its CHURNFLOW_INSTANCE_ID). */
  readonly foreign: readonly string[];
  /** Partitions it reports lag for (churnflow_consumer_lag). */
  readonly lagPartitions: readonly number[];
  /** Partitions of its last group join. */
  readonly assigned: readonly number[];
}

export interface FleetRunResult {
  readonly events: number;
  readonly referenceSeconds: number;
  readonly scenarios: readonly ScenarioResult[];
}

export async function runFleet(options: FleetOptions, log: (line: string) => void): Promise<FleetRunResult> {
  for (const s of options.scenarios) checkScenario(s);
  const deadline = Date.now() + options.timeoutMs;
  await assertScriptManaged();
  const base = uniqueName('cf-fleet');
  const activity = `${base}.activity`;
  const ref = runConfig('reference', activity, base, 'redis', 0);
  const runs = options.scenarios.map((s, i) => ({ scenario: s, config: runConfig(`fleet${i + 1}`, activity, base, 'redis', 0) }));
  await createTopics([activity, ref.risk, ...runs.map((r) => r.config.risk)], options.partitions);
  const { records, customers } = simulateAtLeast(options.events, options.seed);
  const total = records.filter((r) => r.type === 'event').length;

  const logDir = mkdtempSync(join(tmpdir(), 'cf-fleet-logs-'));
  log(`[fleet] engine logs in ${logDir}`);
  const fleets = [{ dir: 'reference', config: ref.config }, ...runs.map((r, i) => ({ dir: `fleet${i + 1}`, config: r.config.config }))].map(({ dir, config }) => {
    mkdirSync(join(logDir, dir));
    // Each member's instance id is its role, so its metrics and logs say which engine it is.
    return new EngineFleet(config, join(logDir, dir), (l) => log(l.replace('[faults]', `[fleet] ${dir}:`)), (role) => ({ CHURNFLOW_INSTANCE_ID: role }));
  });
  const release = killOnExit(fleets);
  // One failure ends every wait still polling (each calls supervise on every poll), so nothing outlives the run.
  let failed: unknown;
  const bounds = {
    deadline,
    stallMs: options.stallMs,
    supervise: () => {
      if (failed !== undefined) throw new Error('the fleet run ended (another part failed)');
    },
  };
  const guarded = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      failed ??= err;
      throw err;
    });
  const results: ScenarioResult[] = [];
  let referenceSeconds = 0;
  try {
    // The stream goes out live; the reference and every scenario consume it at the same time.
    let produced = false;
    const t0 = Date.now();
    const production = produceSimulatedPaced(activity, records, { chunks: 60, overMs: options.paceMs }).then((c) => {
      produced = true;
      log(`[fleet] produced ${c.events} events (${customers} customers × ${DAYS} days, seed ${options.seed}) to ${activity} (${options.partitions} partitions) over ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
    const reference = (async () => {
      fleets[0]!.startMain();
      await waitForOffsets(ref.groupId, activity, (p) => produced && p.caughtUp, bounds, 'the reference run to catch up');
      referenceSeconds = (Date.now() - t0) / 1000;
      const stop = await fleets[0]!.sigterm('main');
      if (stop.code !== 0) throw new Error(`the reference engine did not stop cleanly (exit ${stop.code})`);
      log(`[fleet] reference (one engine) caught up: ${total} events, ${referenceSeconds.toFixed(1)} s after the stream began`);
    })();
    const scenarios = runs.map(async (run, i) => {
      const fleet = fleets[i + 1]!;
      let metrics: InstanceMetrics[] = [];
      try {
        const outcome = await runScenario(fleet, run.scenario, { groupId: run.config.groupId, topic: activity, total, produced: () => produced }, bounds, log, async () => {
          metrics = await scrapeInstances(fleet);
        });
        const seconds = (Date.now() - t0) / 1000;
        log(`[fleet] ${run.scenario.name}: caught up ${seconds.toFixed(1)} s after the stream began`);
        return { outcome, metrics, seconds };
      } catch (err) {
        log(`[fleet] ${run.scenario.name} FAILED: ${String(err)}\n${fleet.tails(4)}`);
        throw err;
      } finally {
        await fleet.killAll();
      }
    });
    const [, , ...done] = await Promise.all([guarded(production), guarded(reference), ...scenarios.map((s) => guarded(s))]);
    const refRisk = await readRisk(ref.risk);
    for (const [i, run] of runs.entries()) {
      const { outcome, metrics, seconds } = done[i]!;
      const risk = compareRisk(refRisk, await readRisk(run.config.risk));
      const state = await compareRedisStates('redis', ref.keyPrefix, run.config.keyPrefix);
      results.push({ scenario: run.scenario.name, risk, state, anomalies: outcome.anomalies, idleSteps: outcome.idleSteps, peakMidStream: outcome.peakMidStream, assignments: fleets[i + 1]!.assignments(), seconds, metrics });
    }
  } finally {
    failed ??= 'finished';
    for (const f of fleets) await f.killAll();
    release();
    await cleanUp('redis', `${base}.`, [ref.keyPrefix, ...runs.map((r) => r.config.keyPrefix)]).catch((err: unknown) => log(`[fleet] clean-up failed (harmless): ${String(err)}`));
  }
  return { events: total, referenceSeconds, scenarios: results };
}

/** Each running engine's /metrics: its series, those labelled with another instance, the partitions it reports lag for. */
async function scrapeInstances(fleet: EngineFleet): Promise<InstanceMetrics[]> {
  // A member started by a late step may still be loading when the group has caught up (a quick
  // machine consumes the stream before it): scrape each running engine once it has joined.
  await fleet.joined(120_000);
  const assignments = fleet.assignments();
  const out: InstanceMetrics[] = [];
  for (const role of fleet.running()) {
    const url = fleet.httpUrl(role);
    if (!url) throw new Error(`${role} logged no metrics URL`);
    const text = await (await fetch(`${url}/metrics`)).text();
    const series = text.split('\n').filter((l) => l.startsWith('churnflow_'));
    const foreign = series.filter((l) => !l.includes(`instance="${role}"`));
    const lagPartitions = series.filter((l) => l.startsWith('churnflow_consumer_lag{')).map((l) => Number(/partition="(\d+)"/.exec(l)?.[1]));
    const name = [...assignments.keys()].filter((n) => n.startsWith(`${role}-`)).at(-1);
    out.push({ role, series: series.length, foreign, lagPartitions: lagPartitions.sort((a, b) => a - b), assigned: (name ? assignments.get(name)?.at(-1) : undefined) ?? [] });
  }
  return out;
}

/** Starts the initial members, carries out each step at its share, lets the group catch up, reads the metrics (`atEnd`) and stops whoever is left. */
interface ScenarioOutcome {
  readonly anomalies: string[];
  readonly idleSteps: number;
  readonly peakMidStream: boolean;
}

async function runScenario(fleet: EngineFleet, scenario: FleetScenario, t: { groupId: string; topic: string; total: number; produced: () => boolean }, b: WaitBounds, log: (line: string) => void, atEnd: () => Promise<void>): Promise<ScenarioOutcome> {
  const bounds: WaitBounds = {
    ...b,
    supervise: () => {
      b.supervise?.();
      fleet.supervise();
    },
  };
  // Caught up counts only once the whole stream is out: while it is produced, a group keeping up is at the end all the time.
  const caughtUp = (p: { caughtUp: boolean }) => t.produced() && p.caughtUp;
  const anomalies: string[] = [];
  for (const m of scenario.initial) fleet.startRole(m);
  log(`[fleet] ${scenario.name}: started ${scenario.initial.join(', ')}`);
  let committedAtLastStep = -1;
  let idleSteps = 0;
  let peakMidStream = scenario.initial.length === scenario.instances;
  for (const step of scenario.steps) {
    // At least one commit since the previous step and every running engine in the group, so each step hits a consuming group.
    const target = Math.max(Math.ceil(step.atShare * t.total), committedAtLastStep + 1);
    const at = await waitForOffsets(t.groupId, t.topic, (p) => p.committed >= target || caughtUp(p), bounds, `${Math.round(step.atShare * 100)} % committed`);
    await fleet.joined(b.stallMs);
    let what: string;
    if (step.action === 'join') {
      fleet.startRole(step.member);
      what = `${step.member} joins`;
    } else if (step.action === 'kill') {
      const pid = fleet.pid(step.member);
      await fleet.kill(step.member);
      what = `kill -9 ${step.member} (pid ${pid})`;
    } else {
      const { code, ms } = await fleet.sigterm(step.member);
      what = `${step.member} leaves (SIGTERM): exit ${code} after ${(ms / 1000).toFixed(1)} s`;
      if (code !== 0) anomalies.push(what);
    }
    committedAtLastStep = (await groupProgress(t.groupId, t.topic).catch(() => at)).committed;
    const idle = at.committed >= t.total ? ' (caught up already: the engines were idle)' : '';
    if (idle) idleSteps++;
    else if (fleet.running().length === scenario.instances) peakMidStream = true;
    log(`[fleet] ${scenario.name}: at committed ${at.committed}/${t.total} (${((100 * at.committed) / t.total).toFixed(1)} %): ${what}; running ${fleet.running().join(', ')}${idle}`);
  }
  await waitForOffsets(t.groupId, t.topic, caughtUp, bounds, `${scenario.name} to catch up`);
  await atEnd();
  for (const role of fleet.running().reverse()) {
    const stop = await fleet.sigterm(role);
    if (stop.code !== 0) anomalies.push(`final SIGTERM of ${role}: exit ${stop.code}`);
  }
  return { anomalies: [...anomalies, ...fleet.unexpectedExits], idleSteps, peakMidStream };
}
