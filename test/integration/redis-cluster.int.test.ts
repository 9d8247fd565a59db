// The Redis stores on a real Redis Cluster (npm run services -- start redis-cluster: 3 masters, 3
// replicas): the shared state-store and alias-store contracts, keys spread over every master with the
// slot Redis itself computes, writes on the replica before they are acknowledged (WAIT), too few
// replicas failing retriably, the start-up check, and a master killed mid-stream (its replica takes
// over) with the final state equal to the memory store's.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { loadConfig } from '../../src/config/load-config.js';
import { redisConnection } from '../../src/config/redis-connection.js';
import { ChurnflowError } from '../../src/errors.js';
import type { ActivityEvent } from '../../src/events/activity-event.js';
import type { ActivityEventJson } from '../../src/events/wire-types.js';
import { compileSpec } from '../../src/features/compile-spec.js';
import { DEFAULT_CHURN_SPEC } from '../../src/features/default-churn-spec.js';
import { checkRedis } from '../../src/preflight/check-redis.js';
import { RedisAliasStore } from '../../src/registry/redis-alias-store.js';
import { resolveSimulatorOptions, simulate } from '../../src/simulator/index.js';
import type { StateDelta, StateLayout } from '../../src/state/customer-state.js';
import { layoutInfo, layoutText } from '../../src/state/codec/layout-fingerprint.js';
import { MemoryStateStore } from '../../src/state/memory-store.js';
import { RedisStateStore, type RedisStoreOptions } from '../../src/state/redis-store.js';
import { aliasStoreContract } from '../contract/alias-store.contract.js';
import { stateStoreContract } from '../contract/state-store.contract.js';
import { clusterTestKeys } from '../helpers/redis.js';
import { killMasterUntilPromoted, rejoinNodes } from '../helpers/cluster-failover.js';
import { servicesScript, SERVICES } from '../helpers/services.js';

const spec = compileSpec(DEFAULT_CHURN_SPEC);
const { admin, newPrefix } = clusterTestKeys('cf-cluster-it');
const clusterStore = (extra: Partial<RedisStoreOptions> = {}, layout: StateLayout = spec.layout) =>
  new RedisStateStore({ clusterNodes: SERVICES.redisClusterNodes, keyPrefix: newPrefix(), layout, ...extra });

stateStoreContract('redis cluster store', async (layout) => clusterStore({}, layout));

aliasStoreContract('redis cluster alias store', async () => {
  const keyPrefix = newPrefix();
  return {
    open: async (clock) => new RedisAliasStore({ clusterNodes: SERVICES.redisClusterNodes, keyPrefix, clock }),
    cleanup: async () => {},
  };
});

/** A simulated stream's deltas, as a 4-partition source would number them. */
function simulatedDeltas(customers: number, days: number, seed: number): StateDelta[] {
  const offsets = new Map<string, number>();
  const out: StateDelta[] = [];
  for (const r of simulate(resolveSimulatorOptions({ customers, days, seed }))) {
    if (r.type !== 'event') continue;
    const e: ActivityEventJson = r.event;
    const event: ActivityEvent = { eventId: e.event_id, customerId: e.customer_id, eventTime: e.event_time, kind: e.kind, payload: e.payload as unknown as ActivityEvent['payload'] };
    const stream = `p${Number.parseInt(e.customer_id.replace(/\D/g, '') || '0', 10) % 4}`;
    const offset = offsets.get(stream) ?? 0;
    offsets.set(stream, offset + 1);
    out.push(spec.deltaFor(event, { stream, offset }));
  }
  return out;
}

const idsOf = (deltas: readonly StateDelta[]) => [...new Set(deltas.map((d) => d.customerId))];

function batches<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

async function memoryStates(deltas: readonly StateDelta[]) {
  const mem = new MemoryStateStore({ layout: spec.layout });
  for (const b of batches(deltas, 256)) await mem.apply(b);
  return mem.get(idsOf(deltas));
}

/** Direct connections to the replicas, each in READONLY mode (a replica answers for its own master's slots, MOVED for the rest). */
async function replicaClients(): Promise<Redis[]> {
  const clients = admin.nodes('slave').map((n) => new Redis({ host: n.options.host, port: n.options.port, maxRetriesPerRequest: 1 }));
  await Promise.all(clients.map((c) => c.readonly()));
  return clients;
}

describe('redis cluster store: keys, replicas and WAIT', () => {
  test('customers spread over all 3 masters, at the slot Redis computes; every write is on the replica when acknowledged', async () => {
    const store = clusterStore();
    const replicas = await replicaClients();
    try {
      const deltas = simulatedDeltas(60, 20, 7);
      for (const b of batches(deltas, 200)) await store.apply(b);
      const ids = idsOf(deltas);
      const keys = ids.map((id) => store.keyOf(id));
      const masters = new Set<string>();
      for (const key of keys) {
        assert.equal(calculateSlot(key), await admin.cluster('KEYSLOT', key), `slot of ${key}`);
        const slot = admin.slots[calculateSlot(key)];
        if (slot?.[0]) masters.add(slot[0]);
      }
      assert.equal(masters.size, 3, 'the customers live on every master');
      assert.deepEqual(await store.get(ids), await memoryStates(deltas), 'the same states as the memory store');
      // A store that has not sent a command yet still scans every master (the client must be ready first).
      const fresh = new RedisStateStore({ clusterNodes: SERVICES.redisClusterNodes, keyPrefix: store.keyOf('x').split('{')[0]!, layout: spec.layout });
      try {
        const scanned: string[] = [];
        for await (const page of fresh.scan(25)) scanned.push(...page.map((c) => c.customerId));
        assert.deepEqual(scanned.sort(), [...ids].sort(), 'scan from a fresh client finds every customer once');
      } finally {
        await fresh.close();
      }
      // No pause here: WAIT already made each write reach the replica before apply() returned.
      for (const key of keys) {
        const onMaster = await admin.hgetall(key);
        const held = await Promise.all(replicas.map((r) => r.hgetall(key).catch((err: Error) => (/^MOVED/.test(err.message) ? null : Promise.reject(err)))));
        const holders = held.filter((h): h is Record<string, string> => h !== null);
        assert.equal(holders.length, 1, `exactly one replica serves ${key}`);
        assert.deepEqual(holders[0], onMaster, `the replica has ${key} as the master does`);
      }
    } finally {
      replicas.forEach((r) => r.disconnect());
      await store.close();
    }
  });

  test('more replicas asked than a master has: the batch fails retriably (CF_STATE_UNAVAILABLE) at its load, before any write; with enough, it applies', async () => {
    const keyPrefix = newPrefix();
    const strict = new RedisStateStore({ clusterNodes: SERVICES.redisClusterNodes, keyPrefix, layout: spec.layout, waitReplicas: 2, waitTimeoutMs: 200 });
    const normal = new RedisStateStore({ clusterNodes: SERVICES.redisClusterNodes, keyPrefix, layout: spec.layout });
    try {
      const deltas = simulatedDeltas(5, 5, 11);
      await assert.rejects(strict.apply(deltas), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_STATE_UNAVAILABLE' && err.retriable && /of 2 replica/.test(err.message));
      const rerun = await normal.apply(deltas);
      // The load's WAIT fell short already, so the strict store wrote nothing: the rerun applies every event.
      assert.ok(rerun.every((r) => r.outcomes.every((o) => o === 'applied')), 'nothing was written by the refused batch');
      assert.deepEqual(await normal.get(idsOf(deltas)), await memoryStates(deltas));
    } finally {
      await strict.close();
      await normal.close();
    }
  });

  test('the layout key is one more key on the cluster: a store whose spec orders the slots otherwise reads what the first one wrote', async () => {
    const keyPrefix = newPrefix();
    const writer = new RedisStateStore({ clusterNodes: SERVICES.redisClusterNodes, keyPrefix, layout: spec.layout });
    const reader = new RedisStateStore({ clusterNodes: SERVICES.redisClusterNodes, keyPrefix, layout: { ...spec.layout, merges: new Map([...spec.layout.merges].reverse()) } });
    try {
      const deltas = simulatedDeltas(12, 10, 17);
      await writer.apply(deltas);
      assert.equal(await admin.get(writer.layoutKey(layoutInfo(spec.layout.merges).fingerprint)), layoutText(spec.layout.merges));
      assert.deepEqual(await reader.get(idsOf(deltas)), await memoryStates(deltas));
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  test('config state.redis.cluster → the cluster connection; the start-up check passes on the cluster and refuses a standalone node', async () => {
    const config = loadConfig({ overrides: { state: { kind: 'redis', redis: { cluster: { nodes: SERVICES.redisClusterNodes } } } } });
    const connection = redisConnection(config);
    assert.equal(connection.kind, 'cluster');
    assert.equal(await checkRedis(connection), undefined);
    const standalone = SERVICES.redisUrl.replace(/^redis:\/\//, '');
    await assert.rejects(checkRedis({ ...connection, clusterNodes: [standalone] }), (err: unknown) => err instanceof ChurnflowError && err.code === 'CF_CONFIG_INVALID' && /state\.redis\.cluster\.nodes: .* is not a Redis Cluster node/.test(err.message));
  });
});

describe('redis cluster store: failover', () => {
  test('a master killed (SIGKILL) mid-stream, its replica promoted, the node back as a replica: batches retried, final state exact', { timeout: 180_000 }, async () => {
    await servicesScript(['status', 'redis-cluster'], 30_000);
    const store = clusterStore();
    try {
      const deltas = simulatedDeltas(90, 40, 5);
      const bs = batches(deltas, 150);
      const killAt = Math.floor(bs.length / 3);
      let retries = 0;
      let failover: Promise<{ promoted: string; ms: number }> | undefined;
      let killed = '';
      for (const [i, b] of bs.entries()) {
        if (i === killAt) {
          // The master of this batch's first customer: a node the next writes need. While its replica
          // is master without a replica of its own, WAIT falls short and batches retry until the node
          // is back (restarted only after the promotion, else it would simply resume as master).
          killed = admin.slots[calculateSlot(store.keyOf(b[0]!.customerId))]![0]!;
          failover = killMasterUntilPromoted(killed).then(async (f) => {
            await rejoinNodes();
            return f;
          });
          failover.catch(() => {}); // awaited below
          await new Promise((r) => setTimeout(r, 100));
        }
        for (let attempt = 1; ; attempt++) {
          try {
            await store.apply(b);
            break;
          } catch (err) {
            if (!(err instanceof ChurnflowError && err.retriable) || attempt >= 240) throw err;
            retries++;
            await new Promise((r) => setTimeout(r, 250));
          }
        }
      }
      const { promoted } = await failover!;
      assert.notEqual(promoted, killed);
      assert.ok(retries > 0, 'the failover was felt (batches retried)');
      assert.deepEqual(await store.get(idsOf(deltas)), await memoryStates(deltas));
      const rejoined = String(await admin.cluster('NODES'))
        .trim()
        .split('\n')
        .map((line) => line.split(' '))
        .find((f) => f[1]?.startsWith(`${killed}@`));
      assert.ok(rejoined?.[2]?.split(',').includes('slave'), `node ${killed} rejoined as a replica: ${rejoined?.join(' ')}`);
    } finally {
      await store.close();
    }
  });
});
