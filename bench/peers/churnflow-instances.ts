// `churnflow run` as several instances of one consumer group on this machine (each its own process,
// churnflow-instance.ts): how the engine scales out, the same resources the peer's stream threads
// get. The clock starts once every instance has built its engine (model loaded, as the
// single-instance leg) and stops once every instance has drained after the group applied the topic's
// last offset of every partition: states written, offsets committed. A record applied twice (a
// rebalance while the instances join) counts once: the stop is decided by offsets, not by counts.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ShippedRun } from '../shipped-config.js';
import type { FromInstance, RebalanceCosts, ToInstance } from './churnflow-instance.js';

const INSTANCE = fileURLToPath(new URL('./churnflow-instance.js', import.meta.url));

export interface InstancesFigures {
  readonly ms: number;
  /** Every instance's CPU time from go to drained, summed, in µs. */
  readonly cpuUs: number;
  /** Records applied, summed over instances (more than the topic when a rebalance replayed some). */
  readonly applied: number;
  /** Summed over instances. */
  readonly rebalance: RebalanceCosts;
}

/**
 * `lastOffsets`: per stream (topic/partition, as the Kafka source names it), the last offset on the topic.
 * `joinAfter`: the first instance starts alone and the others once the group applied this many records
 * (a scale-out mid-stream: partitions move away from an instance holding their customers' states);
 * 0 starts all at once.
 */
export async function runInstances(run: ShippedRun, instances: number, lastOffsets: ReadonlyMap<string, number>, joinAfter = 0): Promise<InstancesFigures> {
  const children: ChildProcess[] = [];
  const highest = new Map<string, number>();
  let applied = 0;
  let cpuUs = 0;
  let built = 0;
  let drained = 0;
  let stopped = false;
  let joined = joinAfter <= 0;
  let t0 = 0;
  const rebalance = { retries: 0, fencedDrops: 0 };
  const caughtUp = (): boolean => [...lastOffsets].every(([stream, last]) => (highest.get(stream) ?? -1) >= last);
  try {
    return await new Promise<InstancesFigures>((resolve, reject) => {
      const tell = (m: ToInstance): void => {
        for (const c of children) c.send(m);
      };
      for (let i = 0; i < instances; i++) {
        const child = fork(INSTANCE, [JSON.stringify(run), `bench-${i + 1}`], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        children.push(child);
        child.on('exit', (code, signal) => {
          // A clean exit comes after this instance's 'drained'; anything else fails the run.
          if (code !== 0) reject(new Error(`instance bench-${i + 1} exited (${signal ?? code}) before the group drained`));
        });
        child.on('message', (m: FromInstance) => {
          if (m.type === 'built') {
            if (++built === instances) {
              t0 = performance.now();
              if (joined) tell({ type: 'go' });
              else children[0]!.send({ type: 'go' } satisfies ToInstance);
            }
          } else if (m.type === 'applied') {
            applied += m.events;
            if (!joined && applied >= joinAfter) {
              joined = true;
              for (const c of children.slice(1)) c.send({ type: 'go' } satisfies ToInstance);
            }
            for (const [stream, offset] of Object.entries(m.highest)) if (offset > (highest.get(stream) ?? -1)) highest.set(stream, offset);
            if (!stopped && caughtUp()) {
              stopped = true;
              tell({ type: 'stop' });
            }
          } else if (m.type === 'drained') {
            cpuUs += m.cpuUs;
            rebalance.retries += m.rebalance.retries;
            rebalance.fencedDrops += m.rebalance.fencedDrops;
            if (++drained === instances) resolve({ ms: performance.now() - t0, cpuUs, applied, rebalance });
          }
        });
      }
    });
  } finally {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}
