// One latency measurement of bench/kafka-e2e: an engine on its own topics, a prelude consumed before
// the clock starts (warm customers) or none (new customers), then events offered at a fixed rate in
// 10 ms ticks. Every offered event is followed along its path with timestamps — sent, appended by the
// broker, received by the engine, its micro-batch closed, state loaded, scored, decided, persisted,
// outputs acknowledged, offset committed — and the events that yield a risk event also until the
// risk event was appended and read back by a separate consumer. Both topics use LogAppendTime, so the
// broker's own clock (same machine, milliseconds) says when a record reached the log.
import type { Admin, Kafka, RecordMetadata } from 'kafkajs';
import { readFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import avro from 'avsc';
import type { ChurnflowConfig } from '../src/config/config-schema.js';
import { createEngine } from '../src/engine.js';
import { productionEdges } from '../src/engine-production.js';
import type { ActivityEvent } from '../src/events/activity-event.js';
import type { Logger } from '../src/observability/logger.js';
import type { ActivityCodec } from '../src/serde/activity-codec.js';
import type { RegistryClient } from '../src/serde/registry-client.js';
import { parseWireFormat } from '../src/serde/registry-decoder.js';
import { activityEventEncoder } from '../src/serde/registry-encoder.js';
import type { KafkaProducerPool } from '../src/sinks/kafka-sink.js';
import { uniqueName } from '../test/helpers/services.js';
import type { CpuProfile } from './cpu-profile-areas.js';

/** The path of an event, in order; 'riskAppended' and 'read' only for events that yield a risk event. */
export const PATH = ['sent', 'appended', 'received', 'batched', 'loaded', 'scored', 'decided', 'persisted', 'riskAppended', 'produced', 'committed', 'read'] as const;
export type PathPoint = (typeof PATH)[number];

export interface LatencyPhaseOptions {
  readonly title: string;
  readonly kafka: Kafka;
  readonly admin: Admin;
  readonly registry: RegistryClient;
  readonly codec: ActivityCodec;
  readonly pool: KafkaProducerPool;
  readonly logger: Logger;
  readonly engineConfig: (groupId: string, activity: string, risk: string) => Readonly<ChurnflowConfig>;
  /** Consumed (and acknowledged) before the clock starts: these customers are known when the timed events arrive. */
  readonly prelude: readonly ActivityEvent[];
  /** Offered at `rate` events/s once the prelude is processed. */
  readonly live: readonly ActivityEvent[];
  readonly rate: number;
  /** When set, a CPU profile (node:inspector, main thread) of the live window only, prelude excluded. */
  readonly profile?: boolean;
}

export interface LatencyPhaseResult {
  readonly title: string;
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
  /** The live window's CPU profile, when asked for. */
  readonly profile?: CpuProfile;
}

/** Wall clock with sub-millisecond resolution, comparable with the broker's LogAppendTime (same host). */
const wallNow = () => performance.timeOrigin + performance.now();
const TICK_MS = 10; // small sends, so the load is smooth and a latency is not a 50 ms burst's queue

export async function latencyPhase(o: LatencyPhaseOptions): Promise<LatencyPhaseResult> {
  const base = uniqueName('lat');
  const topics = { live: `${base}.live`, risk: `${base}.live-risk` };
  await o.admin.createTopics({
    waitForLeaders: true,
    topics: Object.values(topics).map((topic) => ({ topic, numPartitions: 3, replicationFactor: 1, configEntries: [{ name: 'message.timestamp.type', value: 'LogAppendTime' }] })),
  });
  /** Absolute wall times per PATH point (index), by event id; only the live events are followed. */
  const at = new Map<string, Float64Array>();
  const tickOf = new Map<string, number>();
  const partitionOf = new Map<string, number>();
  const appendedByTick: Map<number, number>[] = [];
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

  const riskSchema = avro.Type.forSchema(JSON.parse(readFileSync('schemas/risk-event.avsc', 'utf8')) as avro.Schema);
  const readerGroup = uniqueName('lat-read');
  const reader = o.kafka.consumer({ groupId: readerGroup });
  await reader.connect();
  await reader.subscribe({ topic: topics.risk, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const t = wallNow();
      const r = riskSchema.fromBuffer(parseWireFormat(message.value).body) as { trigger_event_id: string };
      mark(r.trigger_event_id, 'read', t);
      mark(r.trigger_event_id, 'riskAppended', Number(message.timestamp));
    },
  });
  // Both the engine and the reader must own their partitions before the clock starts: on a loaded
  // machine a group join takes seconds, and every event sent before it would be timed with the join in it.
  await untilStable(o.admin, [group, readerGroup]);
  const producer = await o.pool.get();
  const encoder = activityEventEncoder({ registry: o.registry, topic: topics.live, autoRegister: true }, o.codec);
  await encoder.prepare();
  const send = (events: readonly ActivityEvent[]) => producer.send({ topic: topics.live, messages: events.map((e) => ({ key: e.customerId, value: encoder.encode(e) })) });

  for (let i = 0; i < o.prelude.length; i += 1000) await send(o.prelude.slice(i, i + 1000));
  await until(() => applied >= o.prelude.length, 180_000, `${o.title}: prelude of ${o.prelude.length} events not processed`);
  await new Promise((r) => setTimeout(r, 1000)); // the prelude's risk events reach the reader, the engine idles

  const session = o.profile ? new Session() : undefined;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const load0 = loadavg()[0]!;
  const cpu0 = process.cpuUsage();
  const startedAt = performance.now();
  let producedUntil = startedAt;
  // Each tick sends every event due by now: a send that took long (the engine shares this process and
  // the broker this machine) is caught up at the next one, so the offered rate holds. Latency counts
  // from the actual send.
  for (let i = 0, tick = 0; i < o.live.length; ) {
    const due = Math.min(o.live.length, Math.ceil(((performance.now() - startedAt) / 1000) * o.rate));
    if (due > i) {
      const chunk = o.live.slice(i, due);
      i = due;
      const t = wallNow();
      for (const e of chunk) {
        const row = new Float64Array(PATH.length).fill(Number.NaN);
        row[0] = t;
        at.set(e.eventId, row);
        tickOf.set(e.eventId, tick);
      }
      const meta: RecordMetadata[] = await send(chunk);
      appendedByTick[tick++] = new Map(meta.map((m) => [m.partition, Number(m.logAppendTime)]));
      producedUntil = performance.now();
    }
    if (i < o.live.length) await new Promise((r) => setTimeout(r, TICK_MS - ((performance.now() - startedAt) % TICK_MS)));
  }
  const total = o.prelude.length + o.live.length;
  await until(() => applied >= total, 60_000, '').catch(() => undefined); // a stuck engine still reports what it timed
  const cpu = process.cpuUsage(cpu0);
  const wallS = (performance.now() - startedAt) / 1000;
  const profile = session ? ((await session.post('Profiler.stop')).profile as unknown as CpuProfile) : undefined;
  session?.disconnect();
  await new Promise((r) => setTimeout(r, 1000)); // the last risk events reach the reader
  engine.app.stop('bench done');
  await running;
  await reader.disconnect();

  const events: Float64Array[] = [];
  const risky: Float64Array[] = [];
  for (const [id, row] of at) {
    const p = partitionOf.get(id);
    const appended = p === undefined ? undefined : appendedByTick[tickOf.get(id)!]?.get(p);
    if (appended !== undefined && appended > 0) row[1] = appended;
    const rel = row.map((t, i) => (i === 0 ? 0 : t - row[0]!));
    events.push(rel);
    if (!Number.isNaN(rel[idx.get('read')!]!)) risky.push(rel);
  }
  return {
    title: o.title,
    topics: Object.values(topics),
    offered: o.live.length,
    loadRate: o.live.length / ((producedUntil - startedAt) / 1000),
    events,
    risky,
    // The bench process is engine + producer + reader; most of it is the engine's.
    engineCpuMsPerS: (cpu.user + cpu.system) / 1000 / wallS,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loadAverage: load0,
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
  console.log(`\n${r.title}: ${Math.round(r.loadRate).toLocaleString('en-US')} events/s offered, ${r.offered.toLocaleString('en-US')} events, ${r.risky.length.toLocaleString('en-US')} yielded a risk event (load average ${r.loadAverage.toFixed(2)}, bench process CPU ${r.engineCpuMsPerS.toFixed(0)} ms/s)`);
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
