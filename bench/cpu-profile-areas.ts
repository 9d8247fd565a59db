// Self time of a V8 CPU profile (.cpuprofile) by area of the engine: which library or source folder
// the sampled function lives in. Used by bench/engine-cpu.bench.ts, and on its own:
// `node dist/bench/cpu-profile-areas.js <file.cpuprofile>`.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** First match wins: more specific paths before their folders. */
const AREAS: readonly (readonly [string, RegExp])[] = [
  ['kafkajs fetch decode (RecordBatch, CRC, varints)', /kafkajs\/src\/protocol\/(recordBatch|crc32|decoder|message)/],
  ['kafkajs other (network, requests, consumer runner, producer)', /kafkajs\//],
  ['avsc (Avro decode/encode)', /avsc\//],
  ['ioredis + redis parser', /(ioredis|redis-parser|@ioredis|denque|cluster-key-slot)\//],
  ['onnxruntime-node (JS side)', /onnxruntime/],
  ['prom-client metrics', /prom-client\//],
  ['pino logging', /(pino|sonic-boom|thread-stream)\//],
  ['rxjs', /rxjs\//],
  ['lru-cache', /lru-cache\//],
  ['schema registry client', /@confluentinc\//],
  ['state: codec (binary encode/decode)', /dist\/src\/state\/codec\//],
  ['state: hot cache', /dist\/src\/state\/hot-cache/],
  ['state: Redis store', /dist\/src\/state\/redis/],
  ['state: transition (applyDelta, stage, clone)', /dist\/src\/state\//],
  ['features (spec eval, window totals)', /dist\/src\/features\//],
  ['TreeSHAP reasons', /dist\/src\/scoring\/explain\//],
  ['scoring (vectorize, ONNX call, emit rule, bands)', /dist\/src\/scoring\//],
  ['decode (serde: registry decoder, codec)', /dist\/src\/serde\//],
  ['operators (decide, persist, outputs, batching)', /dist\/src\/operators\//],
  ['kafka source (eachBatch, credits, commits)', /dist\/src\/sources\//],
  ['sinks (Kafka sink)', /dist\/src\/sinks\//],
  ['events, validation, dead letters', /dist\/src\/events\//],
  ['time (watermarks, yield points)', /dist\/src\/time\//],
  ['observability (metrics wiring, progress)', /dist\/src\/observability\//],
  ['topology', /dist\/topologies\//],
  ['other engine code (src/)', /dist\/src\//],
  ['other node_modules', /node_modules\//],
];

export interface AreaRow {
  readonly area: string;
  readonly ms: number;
  /** Share of the busy samples (idle and program excluded). */
  readonly share: number;
}

/**
 * A native frame (a V8 builtin, Buffer's C++ side: no script URL) counts for the nearest caller that
 * has one (past Node's own node: modules), so e.g. the Buffer writes of the state codec are the codec's.
 */
function areaOf(node: ProfileNode, parent: ReadonlyMap<number, ProfileNode>): string | undefined {
  const { functionName } = node.callFrame;
  if (functionName === '(idle)' || functionName === '(program)') return undefined;
  if (functionName === '(garbage collector)') return 'GC';
  let internal = false;
  for (let n: ProfileNode | undefined = node; n; n = parent.get(n.id)) {
    const url = n.callFrame.url;
    if (url === '') continue;
    // Node's own modules (Buffer, streams, sockets) count for whoever called them, too.
    if (url.startsWith('node:')) {
      internal = true;
      continue;
    }
    for (const [area, re] of AREAS) if (re.test(url)) return area;
    return 'other';
  }
  return internal ? 'node internals (event loop, timers, sockets: no caller of ours)' : 'native, no script caller';
}

/** Self time per area, largest first; also the busy total and the top functions. */
export function profileAreas(profile: CpuProfile, topFunctions = 25): { busyMs: number; areas: AreaRow[]; functions: { name: string; ms: number; share: number }[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, ProfileNode>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
  const area = new Map<string, number>();
  const fn = new Map<string, number>();
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node) continue;
    const a = areaOf(node, parent);
    if (a === undefined) continue;
    busy += dt;
    area.set(a, (area.get(a) ?? 0) + dt);
    const f = `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*\/(node_modules|dist)\//, '')}`;
    fn.set(f, (fn.get(f) ?? 0) + dt);
  }
  const rows = [...area].map(([a, ms]) => ({ area: a, ms, share: ms / busy })).sort((x, y) => y.ms - x.ms);
  const functions = [...fn].map(([name, ms]) => ({ name, ms, share: ms / busy })).sort((x, y) => y.ms - x.ms).slice(0, topFunctions);
  return { busyMs: busy, areas: rows, functions };
}

export function printProfileAreas(profile: CpuProfile, events: number): void {
  const { busyMs, areas, functions } = profileAreas(profile);
  console.log(`\nCPU profile (main thread, self time by area; ${busyMs.toFixed(0)} ms busy = ${((busyMs * 1000) / events).toFixed(1)} µs per event over ${events.toLocaleString('en-US')} events):`);
  for (const r of areas) console.log(`  ${r.area.padEnd(62)} ${r.ms.toFixed(0).padStart(7)} ms ${(r.share * 100).toFixed(1).padStart(6)} % ${((r.ms * 1000) / events).toFixed(2).padStart(7)} µs/event`);
  console.log('  top functions (self time):');
  for (const f of functions) console.log(`    ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.name}`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, 'dist/'))) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node dist/bench/cpu-profile-areas.js <file.cpuprofile> [events]');
    process.exit(2);
  }
  printProfileAreas(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 1));
}
