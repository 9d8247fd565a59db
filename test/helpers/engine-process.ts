// Runs `churnflow run` as a child process (so tests can SIGTERM or kill -9 it) against the real
// services, and waits for it to catch up with a topic by comparing committed offsets to end offsets.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { kafka } from './kafka.js';
import { SERVICES } from './services.js';

export interface EngineProcess {
  readonly child: ChildProcess;
  readonly logs: () => string;
  readonly exited: Promise<number | null>;
}

export function writeConfig(config: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'cf-engine-'));
  const file = join(dir, 'churnflow.yaml');
  writeFileSync(file, YAML.stringify(config));
  return file;
}

/** `logFile`: also append the engine's stdout and stderr there (long runs keep every engine's log for the post-mortem). */
export function startEngine(configFile: string, env: Record<string, string> = {}, options: { logFile?: string } = {}): EngineProcess {
  const child = spawn(process.execPath, ['bin/churnflow.js', 'run', '--config', configFile], {
    env: {
      ...process.env,
      CHURNFLOW_KAFKA_BROKERS: SERVICES.kafkaBrokers.join(','),
      CHURNFLOW_SCHEMA_REGISTRY_URL: SERVICES.schemaRegistryUrl,
      CHURNFLOW_REDIS_URL: SERVICES.redisUrl,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const file = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  const onData = (d: Buffer) => {
    out += d.toString();
    file?.write(d);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  if (file) child.once('close', () => file.end());
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return { child, logs: () => out, exited };
}

/** Resolves once the group's committed offsets reach the topic's end offsets on every partition. */
export async function waitCaughtUp(groupId: string, topic: string, timeoutMs = 120_000, isAlive: () => boolean = () => true): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const started = Date.now();
    while (Date.now() - started < timeoutMs) {
      if (!isAlive()) throw new Error('engine exited before catching up');
      let ends: Awaited<ReturnType<typeof admin.fetchTopicOffsets>>;
      let committed: Awaited<ReturnType<typeof admin.fetchOffsets>>;
      try {
        ends = await admin.fetchTopicOffsets(topic);
        committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      } catch (err) {
        // A broker restart (a fault some tests inject) briefly answers "not the leader": ask again.
        if ((err as { retriable?: boolean }).retriable !== true) throw err;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      if (ends.every((e) => Number(e.offset) === 0 || byPartition.get(e.partition) === Number(e.offset))) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`group ${groupId} did not catch up with ${topic} within ${timeoutMs} ms`);
  } finally {
    await admin.disconnect();
  }
}

/** Committed and end offsets of the group on the topic, summed over partitions; caught up when every non-empty partition is committed to its end. */
export async function groupProgress(groupId: string, topic: string): Promise<{ committed: number; end: number; caughtUp: boolean }> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    return {
      committed: [...byPartition.values()].reduce((n, o) => n + Math.max(0, o), 0),
      end: ends.reduce((n, e) => n + Number(e.offset), 0),
      caughtUp: ends.every((e) => Number(e.offset) === 0 || byPartition.get(e.partition) === Number(e.offset)),
    };
  } finally {
    await admin.disconnect();
  }
}

/** The group's committed offset on each partition of the topic (-1: none yet). */
export async function committedOffsets(groupId: string, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/** Committed records of the group on the topic (sum over partitions). */
export async function committedCount(groupId: string, topic: string): Promise<number> {
  return [...(await committedOffsets(groupId, topic)).values()].reduce((n, o) => n + Math.max(0, o), 0);
}

export async function stopEngine(p: EngineProcess, timeoutMs = 30_000): Promise<number | null> {
  p.child.kill('SIGTERM');
  const code = await Promise.race([p.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs))]);
  if (code === 'timeout') {
    p.child.kill('SIGKILL');
    throw new Error(`engine did not stop within ${timeoutMs} ms after SIGTERM:\n${p.logs().slice(-3000)}`);
  }
  return code;
}

/** Waits until the group caught up with the topic, then stops every engine; a failing run never leaves an engine behind. */
export async function stopWhenCaughtUp(groupId: string, topic: string, engines: readonly EngineProcess[], timeoutMs = 180_000): Promise<void> {
  try {
    await waitCaughtUp(groupId, topic, timeoutMs, () => engines.some((e) => e.child.exitCode === null)).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${engines.map((e) => e.logs().slice(-3000)).join('\n')}`);
    });
    for (const e of engines) {
      const code = await stopEngine(e);
      if (code !== 0) throw new Error(`engine exited with ${code}:\n${e.logs().slice(-2000)}`);
    }
  } finally {
    for (const e of engines) if (e.child.exitCode === null) e.child.kill('SIGKILL');
  }
}
