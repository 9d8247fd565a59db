// One `churnflow run` instance of a multi-instance bench leg, in its own process (forked by
// churnflow-instances.ts): the engine exactly as the single-instance leg builds it, with an IPC
// protocol around it so the parent can time the group as one job. built → (go) → per batch the highest
// offset applied per stream → (stop) → drained with this process's CPU time. Not a product entry point.
import { createEngine } from '../../src/engine.js';
import { productionEdges } from '../../src/engine-production.js';
import { createLogger } from '../../src/observability/logger.js';
import { shippedConfig, type ShippedRun } from '../shipped-config.js';

export type ToInstance = { readonly type: 'go' } | { readonly type: 'stop' };
export type FromInstance =
  | { readonly type: 'built' }
  | { readonly type: 'applied'; readonly events: number; readonly highest: Readonly<Record<string, number>> }
  | { readonly type: 'drained'; readonly cpuUs: number; readonly rebalance: RebalanceCosts };

/** What moving partitions cost an instance: batches run again, cache entries another writer made stale. */
export interface RebalanceCosts {
  /** Batches run again after a retriable failure (a fenced write among them). */
  readonly retries: number;
  /** Hot-cache entries dropped because another instance wrote one of this instance's customers. */
  readonly fencedDrops: number;
}

const send = (m: FromInstance): void => {
  process.send!(m);
};

const [runJson, instanceId] = process.argv.slice(2);
if (runJson === undefined || instanceId === undefined || process.send === undefined) {
  throw new Error('churnflow-instance: forked by churnflow-instances.ts with <run json> <instance id>');
}
const run = JSON.parse(runJson) as ShippedRun;
const engine = await createEngine({ ...shippedConfig(run), instance: { id: instanceId } }, { logger: createLogger({ level: 'warn' }), factories: productionEdges() });
const go = new Promise<void>((resolve) => {
  process.on('message', (m: ToInstance) => {
    if (m.type === 'go') resolve();
    else if (m.type === 'stop') engine.app.stop('bench: the group caught up');
  });
});
send({ type: 'built' });
await go;
const c0 = process.cpuUsage();
await engine.run(
  (batch) => {
    const highest: Record<string, number> = {};
    for (const item of batch.items) {
      const { stream, offset } = item.record.position;
      if (!(offset <= (highest[stream] ?? -1))) highest[stream] = offset;
    }
    send({ type: 'applied', events: batch.items.length, highest });
  },
  async () => {
    const c = process.cpuUsage(c0);
    const total = async (m: { get(): Promise<{ values: { value: number; labels: Partial<Record<string, string | number>> }[] }> }, label?: string) =>
      (await m.get()).values.filter((v) => label === undefined || v.labels.reason === label).reduce((n, v) => n + v.value, 0);
    const rebalance = { retries: await total(engine.metrics.batchRetries), fencedDrops: await total(engine.metrics.stateCacheDropped, 'fenced') };
    send({ type: 'drained', cpuUs: c.user + c.system, rebalance });
  },
);
process.disconnect();
