// The Redis side of an integration suite: an admin connection (checked before the first test) and
// fresh key prefixes, every key under them removed after the last test.
import { after, before } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { SERVICES, uniqueName } from './services.js';

export function redisTestKeys(label: string): { readonly admin: Redis; newPrefix(): string } {
  const admin = new Redis(SERVICES.redisUrl, { maxRetriesPerRequest: 1, retryStrategy: (n) => (n > 20 ? null : 100) });
  admin.on('error', () => {});
  return testKeys(admin, label, `Redis is not reachable at ${SERVICES.redisUrl}`, 'redis');
}

/**
 * The suite's lifecycle of an admin client: pinged before the first test (failing with how to start
 * the service), every key under the prefixes it handed out removed after the last one, then closed.
 */
function testKeys<C extends Redis | Cluster>(admin: C, label: string, unreachable: string, service: string): { readonly admin: C; newPrefix(): string } {
  const prefixes: string[] = [];
  before(async () => {
    try {
      await admin.ping();
    } catch (err) {
      throw new Error(`${unreachable} (${String(err)}); start it with: npm run services -- start ${service}`);
    }
  });
  after(async () => {
    for (const p of prefixes) await unlinkPrefix(admin, p);
    await admin.quit();
  });
  return {
    admin,
    newPrefix() {
      const p = `${uniqueName(label)}:`;
      prefixes.push(p);
      return p;
    },
  };
}

/** Removes every key under a prefix (SCAN + UNLINK; on a Cluster, on every master). */
export async function unlinkPrefix(redis: Redis | Cluster, prefix: string): Promise<void> {
  if (redis instanceof Cluster) {
    // A fresh client knows its masters only once connected (PING waits for that); one key per UNLINK,
    // routed by the cluster client (keys of one node live in different slots, and a failover may have
    // moved them since the node list was read).
    await redis.ping();
    for (const node of redis.nodes('master')) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await Promise.all(keys.map((k) => redis.unlink(k)));
      } while (cursor !== '0');
    }
    return;
  }
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** A Cluster client on the redis-cluster service, for a suite's set-up and clean-up (not the store's own client). */
export function clusterAdmin(): Cluster {
  const cluster = new Cluster(
    SERVICES.redisClusterNodes.map((n) => ({ host: n.split(':')[0]!, port: Number(n.split(':')[1]) })),
    { clusterRetryStrategy: (n) => (n > 20 ? null : 200), redisOptions: { connectTimeout: 3000 } },
  );
  cluster.on('error', () => {});
  return cluster;
}

/** Like redisTestKeys, on the redis-cluster service: fresh prefixes, their keys removed after the last test. */
export function clusterTestKeys(label: string): { readonly admin: Cluster; newPrefix(): string } {
  return testKeys(clusterAdmin(), label, `the Redis Cluster is not reachable at ${SERVICES.redisClusterNodes.join(',')}`, 'redis-cluster');
}

/**
 * The outbox fields (`o:…`) left in the customer hashes under a key prefix, and how many customers it
 * holds: after a drain none should be left (every entry's offset committed, then deleted).
 */
export async function outboxAtRest(admin: Redis, prefix: string): Promise<{ customers: number; fields: string[] }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', `${prefix}{c:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  const p = admin.pipeline();
  for (const k of keys) p.hkeys(k);
  const fields = ((await p.exec()) ?? []).flatMap(([, f], i) => (f as string[]).filter((x) => x.startsWith('o:')).map((x) => `${keys[i]} ${x}`));
  return { customers: keys.length, fields };
}
