// One latency measurement of bench/kafka-e2e: an engine on its own topics, a prelude consumed before
// the clock starts (warm customers) or none (new customers), then events offered at a fixed rate in
// 10 ms ticks. Every offered event is followed along its path with timestamps — sent, appended by the
// broker, received by the engine, its micro-batch closed, state loaded, scored, decided, persisted,
// outputs acknowledged, offset committed — and the events that yield a risk event also until the
// risk event was appended and read back by a separate consumer. Both topics use LogAppendTime, so the
// broker's own clock (same machine, milliseconds) says when a record reached the log. The live events'
// producer and the reader run in a worker thread (latency-traffic.ts), off the engine's event loop.
import type { Admin } from 'kafkajs';
import { EventEmitter } from 'node:events';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { ChurnflowConfig } from '../src/config/config-schema.js';
import { createEngine } from '../src/engine.js';
import { productionEdges } from '../src/engine-production.js';
import type { ActivityEvent } from '../src/events/activity-event.js';
import type { Logger } from '../src/observability/logger.js';
import type { ActivityCodec } from '../src/serde/activity-codec.js';
import { resolveSimulatorOptions, simulate } from '../src/simulator/index.js';
import type { RegistryClient } from '../src/serde/registry-client.js';
import { activityEventEncoder } from '../src/serde/registry-encoder.js';
import type { KafkaProducerPool } from '../src/sinks/kafka-sink.js';
import { SERVICES, uniqueName } from '../test/helpers/services.js';
import type { CpuProfile } from './cpu-profile-areas.js';
import type { TrafficInput, TrafficResult } from './latency-traffic.js';

/** The path of an event, in order; 'riskAppended' and 'read' only for events that yield a risk event. */
export const PATH = ['sent', 'appended', 'received', 'batched', 'loaded', 'scored', 'decided', 'persisted', 'riskAppended', 'produced', 'committed', 'read'] as const;
export type PathPoint = (typeof PATH)[number];

export interface PhaseEvents {
  readonly prelude: readonly ActivityEvent[];
  readonly live: readonly ActivityEvent[];
  /** Said after the phase's title (what the events turned out to be). */
  readonly note?: string;
}

export interface LatencyPhaseOptions {
  readonly title: string;
  readonly admin: Admin;
  readonly registry: RegistryClient;
  readonly codec: ActivityCodec;
  readonly pool: KafkaProducerPool;
  readonly logger: Logger;
  readonly engineConfig: (groupId: string, activity: string, risk: string) => Readonly<ChurnflowConfig>;
  /**
   * Builds the phase's events, called once: `prelude` is consumed (and acknowledged) before the clock
   * starts, so its customers are known when the timed events arrive; `live` is offered at `rate`
   * events/s once the prelude is processed. A function, not arrays: the engine shares this process's
   * heap, and hundreds of thousands of event objects kept alive by the bench would lengthen its
   * garbage collections (pauses no user's engine has). The phase drops them before the clock starts.
   */
  readonly events: () => PhaseEvents;
  readonly rate: number;
  /** When set, a CPU profile (node:inspector, main thread) of the live window only, prelude excluded. */
  readonly profile?: boolean;
}

export interface LatencyPhaseResult {
  readonly title: string;
  readonly note?: string;
  /** The phase's topics, for the caller to delete after its producer is closed (a kafkajs producer keeps refreshing the metadata of every topic it sent to). */
  readonly topics: readonly string[];
  readonly offered: number;
  readonly loadRate: number;
  /** Per event: milliseconds since 'sent' at each point of PATH reached (NaN when not). */
  readonly events: readonly Float64Array[];
  /** The subset that yielded a risk event read back by the timing consumer. */
  readonly risky: readonly Float64Array[];
  readonly engineCpuMsPerS: number;
  /** The bench process's CPU time (user + system) over the live window, until the last event was processed. */
  readonly cpuMs: number;
  readonly loadAverage: number;
  /** The engine's event loop delay over the live window (perf_hooks monitorEventLoopDelay, 1 ms resolution). */
  readonly loopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** The live window's CPU profile, when asked for. */
  readonly profile?: CpuProfile;
}

/** Wall clock with sub-millisecond resolution, comparable with the broker's LogAppendTime and the traffic worker's clock (same host). */
const wallNow = () => performance.timeOrigin + performance.now();

export async function latencyPhase(o: LatencyPhaseOptions): Promise<LatencyPhaseResult> {
  const base = uniqueName('lat');
  const topics = { live: `${base}.live`, risk: `${base}.live-risk` };
  await o.admin.createTopics({
    waitForLeaders: true,
    topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] })),
  });
  /** Absolute wall times per PATH point (index), by event id; only the live events are followed. */
  const at = new Map<string, Float64Array>();
  const partitionOf = new Map<string, number>();
  const idx = new Map<PathPoint, number>(PATH.map((p, i) => [p, i]));
  const mark = (id: string, point: PathPoint, t: number) => {
    const row = at.get(id);
    const i = idx.get(point)!;
    if (row && Number.isNaN(row[i]!)) row[i] = t; // first time only: a retried batch is not a second sample
  };

  const group = uniqueName('lat-eng');
  const engine = await createEngine(o.engineConfig(group, topics.live, topics.risk), {
    logger: o.logger,
    factories: productionEdges(),
    trace: (stage, items) => {
      const t = wallNow();
      for (const item of items) {
        const id = item.event?.eventId;
        if (id === undefined) continue;
        if (stage === 'received' && at.has(id)) partitionOf.set(id, item.record.partition ?? -1);
        mark(id, stage, t);
      }
    },
  });
  let applied = 0;
  const running = engine.run((batch) => {
    applied += batch.items.length;
  });

  // The producer of the live events and the risk event reader run in a worker thread
  // (bench/latency-traffic.ts): not on the engine's event loop, as no user runs them there.
  const encoder = activityEventEncoder({ registry: o.registry, topic: topics.live, autoRegister: true }, o.codec);
  await encoder.prepare();
  let input: PhaseEvents | undefined = o.events();
  const note = input.note;
  const preludeCount = input.prelude.length;
  const offered = input.live.length;
  let live: { id: string; key: string; value: Uint8Array }[] | undefined = input.live.map((e) => ({ id: e.eventId, key: e.customerId, value: encoder.encode(e) }));
  const liveIds = live.map((e) => e.id);
  for (const id of liveIds) at.set(id, new Float64Array(PATH.length).fill(Number.NaN));
  const readerGroup = uniqueName('lat-read');
  const traffic = new Worker(new URL('./latency-traffic.js', import.meta.url), {
    workerData: { brokers: SERVICES.kafkaBrokers, liveTopic: topics.live, riskTopic: topics.risk, readerGroup, rate: o.rate, events: live } satisfies TrafficInput,
  });
  live = undefined; // the worker has its own copy
  const fromTraffic = new EventEmitter();
  traffic.on('message', (m: unknown) => fromTraffic.emit(typeof m === 'string' ? m : 'result', m));
  const trafficFailed = new Promise<never>((_, reject) => traffic.once('error', reject));
  const next = <T>(what: string) => Promise.race([new Promise<T>((resolve) => fromTraffic.once(what, resolve)), trafficFailed]);
  await next('reader-running');
  // Both the engine and the reader must own their partitions before the clock starts: on a loaded
  // machine a group join takes seconds, and every event sent before it would be timed with the join in it.
  await untilStable(o.admin, [group, readerGroup]);
  const producer = await o.pool.get();
  const send = (batch: readonly ActivityEvent[]) => producer.send({ topic: topics.live, messages: batch.map((e) => ({ key: e.customerId, value: encoder.encode(e) })) });

  for (let i = 0; i < preludeCount; i += 1000) await send(input.prelude.slice(i, i + 1000));
  input = undefined; // sent: from here on the engine's heap holds only what the engine keeps
  await until(() => applied >= preludeCount, 180_000, `${o.title}: prelude of ${preludeCount} events not processed`);
  await new Promise((r) => setTimeout(r, 1000)); // the prelude's risk events reach the reader, the engine idles

  const session = o.profile ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const load0 = loadavg()[0]!;
  // How long the engine's event loop was held up by synchronous work (a fetch response, a Redis reply
  // or a produce acknowledgement that arrives meanwhile waits that long).
  const loopDelay = monitorEventLoopDelay({ resolution: 1 });
  loopDelay.enable();
  const cpu0 = process.cpuUsage();
  const startedAt = performance.now();
  const sent = next<string>('sent');
  traffic.postMessage('start');
  await sent;
  const total = preludeCount + offered;
  await until(() => applied >= total, 60_000, '').catch(() => undefined); // a stuck engine still reports what it timed
  const cpu = process.cpuUsage(cpu0);
  loopDelay.disable();
  const wallS = (performance.now() - startedAt) / 1000;
  const profile = session ? ((await session.post('Profiler.stop')).profile as unknown as CpuProfile) : undefined;
  session?.disconnect();
  await new Promise((r) => setTimeout(r, 1000)); // the last risk events reach the reader
  const result = next<TrafficResult>('result');
  traffic.postMessage('finish');
  const t = await result;
  await traffic.terminate();
  engine.app.stop('bench done');
  await running;

  // The traffic's times into the rows: sent, appended (the tick's LogAppendTime on the event's partition), risk appended, read.
  liveIds.forEach((id, k) => {
    const row = at.get(id)!;
    row[0] = t.sentAt[k]!;
    const p = partitionOf.get(id);
    const appended = p === undefined ? undefined : t.appendedByTick[t.tickOf[k]!]?.find(([q]) => q === p)?.[1];
    if (appended !== undefined && appended > 0) row[1] = appended;
  });
  for (const r of t.reads) {
    mark(r.id, 'read', r.read);
    mark(r.id, 'riskAppended', r.appended);
  }
  const events: Float64Array[] = [];
  const risky: Float64Array[] = [];
  for (const row of at.values()) {
    const rel = row.map((t, i) => (i === 0 ? 0 : t - row[0]!));
    events.push(rel);
    if (!Number.isNaN(rel[idx.get('read')!]!)) risky.push(rel);
  }
  return {
    title: o.title,
    ...(note !== undefined ? { note } : {}),
    topics: Object.values(topics),
    offered,
    loadRate: offered / t.offerSeconds,
    events,
    risky,
    // The bench process is engine + producer + reader; most of it is the engine's.
    engineCpuMsPerS: (cpu.user + cpu.system) / 1000 / wallS,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loadAverage: load0,
    loopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
    ...(profile ? { profile } : {}),
  };
}

export function percentile(xs: readonly number[], p: number): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

/** Per point: p50/p99 of the time since sent, and of the step from the previous point reached. */
export function breakdown(rows: readonly Float64Array[], points: readonly PathPoint[]): { point: PathPoint; sinceSent: [number, number]; step: [number, number] }[] {
  return points.slice(1).map((point) => {
    const i = PATH.indexOf(point);
    const prev = PATH.indexOf(points[points.indexOf(point) - 1]!);
    const since = rows.map((r) => r[i]!);
    const step = rows.map((r) => r[i]! - r[prev]!);
    return { point, sinceSent: [percentile(since, 50), percentile(since, 99)], step: [percentile(step, 50), percentile(step, 99)] };
  });
}

export function printPhase(r: LatencyPhaseResult): void {
  const read = r.risky.map((x) => x[PATH.indexOf('read')]!);
  console.log(`\n${r.title}${r.note ? ` (${r.note})` : ''}: ${Math.round(r.loadRate).toLocaleString('en-US')} events/s offered, ${r.offered.toLocaleString('en-US')} events, ${r.risky.length.toLocaleString('en-US')} yielded a risk event (load average ${r.loadAverage.toFixed(2)}, bench process CPU ${r.engineCpuMsPerS.toFixed(0)} ms/s)`);
  console.log(`  engine event loop delay: p50 ${r.loopDelayMs.p50.toFixed(2)} ms   p99 ${r.loopDelayMs.p99.toFixed(2)} ms   max ${r.loopDelayMs.max.toFixed(1)} ms`);
  console.log(`  event → risk event read back: p50 ${percentile(read, 50).toFixed(1)} ms   p90 ${percentile(read, 90).toFixed(1)} ms   p99 ${percentile(read, 99).toFixed(1)} ms   max ${percentile(read, 100).toFixed(1)} ms`);
  const table = (label: string, rows: readonly Float64Array[], points: readonly PathPoint[]) => {
    console.log(`  ${label} (ms; broker timestamps have 1 ms resolution)`);
    console.log(`    ${'point'.padEnd(14)} ${'since sent p50'.padStart(15)} ${'p99'.padStart(9)}   ${'step p50'.padStart(9)} ${'p99'.padStart(9)}`);
    for (const b of breakdown(rows, points)) {
      console.log(`    ${b.point.padEnd(14)} ${b.sinceSent[0].toFixed(2).padStart(15)} ${b.sinceSent[1].toFixed(2).padStart(9)}   ${b.step[0].toFixed(2).padStart(9)} ${b.step[1].toFixed(2).padStart(9)}`);
    }
  };
  table(`every offered event (${r.events.length.toLocaleString('en-US')})`, r.events, PATH.filter((p) => p !== 'riskAppended' && p !== 'read'));
  table(`events that yielded a risk event (${r.risky.length.toLocaleString('en-US')})`, r.risky, PATH);
}

async function until(cond: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(message || 'timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function untilStable(admin: Admin, groupIds: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { groups } = await admin.describeGroups(groupIds);
    if (groups.every((g) => g.state === 'Stable' && g.members.length > 0)) return;
    if (Date.now() > deadline) throw new Error(`consumer groups not stable after 120 s: ${groups.map((g) => `${g.groupId} ${g.state}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The simulator's events of `customers` over `days`, decoded as the engine sees them. */
export function simulatedEvents(codec: ActivityCodec, customers: number, days: number, seed: number): ActivityEvent[] {
  return [...simulate(resolveSimulatorOptions({ customers, days, seed }))].flatMap((r) => (r.type === 'event' ? [codec.fromJsonObject(r.event)] : []));
}

/**
 * The warm phase's events: the last `total` events of 2,000 customers' history, of customers seen
 * before them, and the history before them as the prelude. The history is at least 45 days and holds
 * at least as many events before the live ones as live ones: a faster engine (a higher half-maximum
 * rate) offers more events in its 15 s, and a fixed 45 days left the live part empty once `total`
 * exceeded the history.
 */
export function warmEvents(codec: ActivityCodec, total: number): PhaseEvents {
  let days = 45;
  let history = simulatedEvents(codec, 2000, days, 14);
  while (history.length < 2 * total) history = simulatedEvents(codec, 2000, (days *= 2), 14);
  const cut = Math.max(0, history.length - total);
  const known = new Set(history.slice(0, cut).map((e) => e.customerId));
  return { prelude: history.slice(0, cut), live: history.slice(cut).filter((e) => known.has(e.customerId)), note: `${days} days of history` };
}
