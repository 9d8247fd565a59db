// Builds (once) and runs the Kafka Streams peer (bench/peers/kafka-streams) from a fresh application
// id to caught up, and returns its figures. The jar is built with Maven when it is missing; the first
// build downloads Kafka Streams, Avro and RocksDB from Maven Central into ~/.m2.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SERVICES } from '../../test/helpers/services.js';

export const PEER_DIR = fileURLToPath(new URL('../../../bench/peers/kafka-streams/', import.meta.url));
export const PEER_JAR = join(PEER_DIR, 'target', 'churnflow-kafka-streams-peer.jar');

export type Guarantee = 'at_least_once' | 'exactly_once_v2';

const figuresSchema = z.object({
  processed: z.number(),
  late: z.number(),
  undecodable: z.number(),
  processed_ms: z.number(),
  caught_up_ms: z.number(),
  customers_dumped: z.number(),
  checksum: z.number(),
});
export type PeerFigures = z.infer<typeof figuresSchema>;

/** Builds the jar unless it is there (`BENCH_PEER_REBUILD=1` forces it); exits with Maven's output if it fails. */
export function ensurePeerJar(): void {
  if (existsSync(PEER_JAR) && process.env.BENCH_PEER_REBUILD !== '1') return;
  console.log(`building the Kafka Streams peer (mvn -q package in ${PEER_DIR}) …`);
  const res = spawnSync('mvn', ['-B', '-q', 'package'], { cwd: PEER_DIR, stdio: 'inherit' });
  if (res.error || res.status !== 0 || !existsSync(PEER_JAR)) {
    console.error(`peers: building the Kafka Streams peer failed (${res.error?.message ?? `mvn exited ${res.status}`}); it needs Java 17 and Maven, and Maven Central the first time`);
    process.exit(2);
  }
}

export interface PeerRun {
  readonly topic: string;
  readonly expect: number;
  readonly guarantee: Guarantee;
  readonly threads: number;
  readonly allowedLatenessMs: number;
  /** Where to write every customer's totals once caught up (for the parity check). */
  readonly dump?: string;
}

/** The changelog topic Kafka Streams makes for the peer's store (the bench deletes it after the runs). */
export function changelogTopic(appId: string): string {
  return `${appId}-customer-windows-changelog`;
}

/** One run in a child JVM; the clock is the peer's own, from KafkaStreams.start() to lag 0. */
export function runPeer(run: PeerRun, appId: string): PeerFigures {
  const stateDir = mkdtempSync(join(tmpdir(), 'cf-peer-state-'));
  try {
    const args = [
      '-jar', PEER_JAR,
      '--bootstrap', SERVICES.kafkaBrokers.join(','),
      '--registry', SERVICES.schemaRegistryUrl,
      '--topic', run.topic,
      '--app-id', appId,
      '--expect', String(run.expect),
      '--guarantee', run.guarantee,
      '--threads', String(run.threads),
      '--state-dir', stateDir,
      '--allowed-lateness-ms', String(run.allowedLatenessMs),
      ...(run.dump ? ['--dump', run.dump] : []),
    ];
    const res = spawnSync('java', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    const line = res.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
    if (res.status !== 0 || line === undefined) {
      throw new Error(`the Kafka Streams peer failed (exit ${res.status}): ${res.stderr.split('\n').filter((l) => /peer:|Exception|ERROR/.test(l)).slice(0, 8).join('\n')}`);
    }
    return figuresSchema.parse(JSON.parse(line));
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}
