// The fault-injection run: the same simulated activity consumed twice from one topic — once by an
// uninterrupted reference engine, once under a seeded plan of kill -9s, SIGTERMs, Redis and broker
// restarts and rebalances — then both risk topics and both Redis states are compared.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RiskEventRecord } from '../../src/events/wire-types.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { resolveSimulatorOptions, simulate, type SimulatedRecord } from '../../src/simulator/index.js';
import { RedisStateStore } from '../../src/state/redis-store.js';
import type { CustomerState } from '../../src/state/customer-state.js';
import { writeConfig } from '../helpers/engine-process.js';
import { createTopics, deleteTopicsWithPrefix, produceSimulatedPaced, readAvroTopic, topicMessageCount } from '../helpers/kafka.js';
import { Redis } from 'ioredis';
import { clusterAdmin, unlinkPrefix } from '../helpers/redis.js';
import { assertScriptManaged, SERVICES, uniqueName } from '../helpers/services.js';
import { compareRisk, type RiskComparison } from './compare-risk.js';
import { compareStates, scanStates, type StateComparison } from './compare-state.js';
import { EngineFleet } from './engine-fleet.js';
import type { FaultOptions, FaultStore } from './fault-options.js';
import { planFaults } from './fault-schedule.js';
import { runUnderFaults } from './run-under-faults.js';
import { waitForOffsets, type WaitBounds } from './wait-for-offsets.js';

export interface FaultRunResult {
  readonly risk: RiskComparison;
  readonly state: StateComparison;
  readonly anomalies: readonly string[];
  readonly events: number;
  readonly seconds: { readonly reference: number; readonly faultRun: number; readonly total: number };
}

export interface RunConfig {
  readonly groupId: string;
  readonly keyPrefix: string;
  readonly risk: string;
  readonly config: string;
}

export const DAYS = 120;
/** The simulator's yield at 120 days, a little under its mean (≈164): a first guess that usually suffices. */
const EVENTS_PER_CUSTOMER = 160;

/** The fewest customers (in 5 % steps from a first guess) whose simulation has at least `events` events. */
export function simulateAtLeast(events: number, seed: number): { records: SimulatedRecord[]; customers: number } {
  let customers = Math.max(1, Math.ceil(events / EVENTS_PER_CUSTOMER));
  for (;;) {
    const records = [...simulate(resolveSimulatorOptions({ customers, days: DAYS, seed }))];
    if (records.filter((r) => r.type === 'event').length >= events) return { records, customers };
    customers = Math.ceil(customers * 1.05);
  }
}

/** The state config of a run: the standalone Redis (CHURNFLOW_REDIS_URL reaches the engine) or the cluster's nodes. */
function redisConfig(store: FaultStore, keyPrefix: string, waitReplicas: number): Record<string, unknown> {
  return store === 'cluster' ? { keyPrefix, cluster: { nodes: SERVICES.redisClusterNodes, waitReplicas } } : { keyPrefix };
}

/** The production config (`churnflow run` defaults: processing time, batching, model) with the run's own group, topics and key prefix. */
export function runConfig(label: string, activity: string, base: string, store: FaultStore, waitReplicas: number): RunConfig {
  const groupId = `${base}-${label}`;
  const keyPrefix = `${base}-${label}:`;
  const risk = `${base}.${label}.risk`;
  const config = writeConfig({
    source: { kind: 'kafka' },
    kafka: {
      groupId,
      topics: { activity: [activity], risk, deadLetter: `${base}.${label}.dead-letter`, drift: `${base}.${label}.drift`, shadow: `${base}.${label}.risk-shadow` },
      // Short sessions: a killed member's partitions move on after 6 s instead of the default 10 s.
      sessionTimeoutMs: 6000,
      heartbeatIntervalMs: 500,
    },
    // Write-behind at 500 ms instead of the shipped 10 s: faults are placed by committed offsets, which
    // trail processing by up to the delay; at 10 s a run this size is processed before a fifth of it is
    // committed, and the faults would hit idle engines. 500 ms still leaves states unwritten at every
    // fault (pending states lost to kill -9, rebuilt after fenced writes in rebalances).
    state: { kind: 'redis', redis: { ...redisConfig(store, keyPrefix, waitReplicas), cache: { writeBehindMs: 500 } } },
    http: { port: 0 },
    log: { level: 'info' },
  });
  return { groupId, keyPrefix, risk, config };
}

export async function runFaults(options: FaultOptions, log: (line: string) => void): Promise<FaultRunResult> {
  const t0 = Date.now();
  const deadline = t0 + options.timeoutMs;
  log(`[faults] seed ${options.seed} (replay this plan with --seed ${options.seed}); ${options.events}+ events over ${options.partitions} partitions; ${options.kills} kill -9, ${options.sigterms} SIGTERM, ${options.redisRestarts} Redis restarts, ${options.brokerRestarts} broker restarts, ${options.rebalances} rebalances, ${options.failovers} Redis Cluster failovers; state on ${options.store === 'cluster' ? `the Redis Cluster ${SERVICES.redisClusterNodes.join(',')} (WAIT for ${options.waitReplicas} replica(s))` : SERVICES.redisUrl}`);
  await assertScriptManaged(options.store);

  const base = uniqueName('cf-faults');
  // Two copies of one stream, the same records in the same order per partition: the reference reads
  // the first, produced at once; the fault run the second, produced live while the faults hit it (a
  // stream produced at once was consumed before most faults on a quick machine: idle engines).
  const activity = `${base}.activity`;
  const liveActivity = `${base}.faulted.activity`;
  const ref = runConfig('reference', activity, base, options.store, options.waitReplicas);
  const run = runConfig('faulted', liveActivity, base, options.store, options.waitReplicas);
  await createTopics([activity, liveActivity, ref.risk, run.risk], options.partitions);
  const { records, customers } = simulateAtLeast(options.events, options.seed);
  const produced = await produceSimulatedPaced(activity, records, { chunks: PACE_CHUNKS, overMs: 0 });
  log(`[faults] produced ${produced.events} events (${customers} customers × ${DAYS} days, seed ${options.seed}) to ${activity}`);
  const total = produced.events;

  const logDir = mkdtempSync(join(tmpdir(), 'cf-faults-logs-'));
  log(`[faults] engine logs in ${logDir}`);
  for (const d of ['reference', 'faulted']) mkdirSync(join(logDir, d));
  const refFleet = new EngineFleet(ref.config, join(logDir, 'reference'), (l) => log(l.replace('[faults]', '[faults] reference:')));
  const runFleet = new EngineFleet(run.config, join(logDir, 'faulted'), log);
  const release = killOnExit([refFleet, runFleet]);
  let anomalies: string[];
  let tRef: number;
  let tRun: number;
  try {
    const r0 = Date.now();
    await runReference(refFleet, ref.groupId, activity, { deadline, stallMs: options.stallMs });
    tRef = (Date.now() - r0) / 1000;
    log(`[faults] reference caught up: ${total} events in ${tRef.toFixed(1)} s`);
    const plan = planFaults(options, options.seed);
    const r1 = Date.now();
    // Ended either way: a failed production lets the run finish what was produced, then fails it with the producer's error.
    let ended = false;
    const production = produceSimulatedPaced(liveActivity, records, { chunks: PACE_CHUNKS, overMs: options.paceMs }).finally(() => (ended = true));
    production.then(() => log(`[faults] ${liveActivity} produced over ${((Date.now() - r1) / 1000).toFixed(1)} s`), () => {});
    anomalies = await runUnderFaults(runFleet, plan, { groupId: run.groupId, topic: liveActivity, total, deadline, stallMs: options.stallMs, produced: () => ended }, log);
    await production;
    tRun = (Date.now() - r1) / 1000;
    log(`[faults] fault run caught up after ${plan.length} faults in ${tRun.toFixed(1)} s`);
  } catch (err) {
    log(`[faults] FAILED: ${String(err)}\n${refFleet.tails(1)}\n${runFleet.tails()}`);
    throw err;
  } finally {
    await refFleet.killAll();
    await runFleet.killAll();
    release();
  }

  const [refRisk, runRisk] = await Promise.all([readRisk(ref.risk), readRisk(run.risk)]);
  const risk = compareRisk(refRisk, runRisk);
  // The fault run's positions name its own topic: compared as the reference's.
  const state = await compareRedisStates(options.store, ref.keyPrefix, run.keyPrefix, (stream) => stream.replace(liveActivity, activity));
  if (options.keep) log(`[faults] kept: topics ${base}.*, Redis prefixes ${ref.keyPrefix} ${run.keyPrefix}`);
  else await cleanUp(options.store, `${base}.`, [ref.keyPrefix, run.keyPrefix]).catch((err: unknown) => log(`[faults] clean-up failed (harmless): ${String(err)}`));
  return { risk, state, anomalies, events: total, seconds: { reference: tRef, faultRun: tRun, total: (Date.now() - t0) / 1000 } };
}

/** The uninterrupted run: one engine, never disturbed, until its group has committed the whole topic. */
export async function runReference(fleet: EngineFleet, groupId: string, topic: string, bounds: WaitBounds): Promise<void> {
  fleet.startMain();
  await waitForOffsets(groupId, topic, (p) => p.caughtUp, bounds, 'the reference run to catch up');
  const stop = await fleet.sigterm('main');
  if (stop.code !== 0) throw new Error(`the reference engine did not stop cleanly (exit ${stop.code})`);
}

/** Whatever ends this process — a signal, the backstop's exit — ends the engines it started too. Returns the undo. */
export function killOnExit(fleets: readonly EngineFleet[]): () => void {
  const killNow = () => fleets.forEach((f) => f.killNow());
  const onSignal = (signal: NodeJS.Signals) => {
    killNow();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('exit', killNow);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return () => {
    process.off('exit', killNow);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

/**
 * Both prefixes' customers, decoded by the store itself. `renameStream` maps a stream of the run's
 * positions to the reference's (when the run read its own copy of the reference's topic).
 */
export async function compareRedisStates(store: FaultStore, refPrefix: string, runPrefix: string, renameStream?: (stream: string) => string): Promise<StateComparison> {
  const spec = compileSpec(DEFAULT_CHURN_SPEC);
  const where = store === 'cluster' ? { clusterNodes: SERVICES.redisClusterNodes } : { url: SERVICES.redisUrl };
  const stores = [refPrefix, runPrefix].map((keyPrefix) => new RedisStateStore({ ...where, keyPrefix, layout: spec.layout }));
  try {
    const [a, b] = await Promise.all(stores.map((s) => scanStates(s)));
    return compareStates(a!, renameStream ? renamePositions(b!, renameStream) : b!);
  } finally {
    await Promise.all(stores.map((s) => s.close()));
  }
}

/** A full run leaves ≈ 1 M records and thousands of hashes: gone once compared, unless --keep. */
export async function cleanUp(store: FaultStore, topicPrefix: string, keyPrefixes: readonly string[]): Promise<void> {
  await deleteTopicsWithPrefix(topicPrefix);
  const redis = store === 'cluster' ? clusterAdmin() : new Redis(SERVICES.redisUrl, { maxRetriesPerRequest: 2 });
  try {
    for (const p of keyPrefixes) await unlinkPrefix(redis, p);
  } finally {
    redis.disconnect();
  }
}

/** The whole topic, decoded; a short read is an error, never a silent "missing". */
export async function readRisk(topic: string): Promise<{ value: RiskEventRecord; raw: Buffer }[]> {
  const count = await topicMessageCount(topic);
  const messages = await readAvroTopic<RiskEventRecord>(topic, { expect: count, timeoutMs: 600_000 });
  if (messages.length !== count) throw new Error(`read ${messages.length} of the ${count} messages in ${topic}`);
  return messages;
}

/** The produced stream's slices (produceSimulatedPaced): the same for both copies, so their bytes match. */
const PACE_CHUNKS = 60;

function renamePositions(states: ReadonlyMap<string, CustomerState>, rename: (stream: string) => string): Map<string, CustomerState> {
  return new Map([...states].map(([id, s]) => [id, { ...s, positions: Object.fromEntries(Object.entries(s.positions).map(([k, v]) => [rename(k), v])) }]));
}
