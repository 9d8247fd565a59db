// A master failover on the redis-cluster service: kill -9 a master (services.sh kill redis-cluster:PORT),
// wait until the cluster has promoted its replica and serves every slot again, then bring the node back
// (services.sh start redis-cluster: it rejoins as a replica and syncs). Used by the cluster store's
// integration test and the fault harness.
import { Redis } from 'ioredis';
import { servicesScript, SERVICES } from './services.js';

interface NodeLine {
  readonly id: string;
  readonly addr: string;
  readonly flags: readonly string[];
  readonly masterId: string;
  readonly slots: readonly string[];
}

function parseNodes(text: string): NodeLine[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const f = line.trim().split(' ');
      return { id: f[0]!, addr: f[1]!.split('@')[0]!, flags: f[2]!.split(','), masterId: f[3]!, slots: f.slice(8) };
    });
}

/** CLUSTER NODES and INFO as seen by the first node that answers (other than `except`). */
async function clusterView(except?: string): Promise<{ nodes: NodeLine[]; ok: boolean }> {
  for (const addr of SERVICES.redisClusterNodes) {
    if (addr === except) continue;
    const [host, port] = addr.split(':');
    const r = new Redis({ host: host!, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000, enableOfflineQueue: false });
    r.on('error', () => {});
    try {
      await r.connect();
      const [nodes, info] = await Promise.all([r.cluster('NODES'), r.cluster('INFO')]);
      return { nodes: parseNodes(String(nodes)), ok: /cluster_state:ok/.test(String(info)) };
    } catch {
      continue;
    } finally {
      r.disconnect();
    }
  }
  throw new Error(`no node of the Redis Cluster answers (${SERVICES.redisClusterNodes.join(',')})`);
}

/** The masters that serve slots, by address (host:port). */
export async function clusterMasters(): Promise<string[]> {
  const { nodes } = await clusterView();
  return nodes
    .filter((n) => n.flags.includes('master') && !n.flags.some((f) => f.startsWith('fail')) && n.slots.length > 0)
    .map((n) => n.addr)
    .sort();
}

/**
 * SIGKILL of the master at `addr`; resolves once one of its replicas is a master and the cluster state
 * is ok again (the node timeout, 2 s on the service, plus the election). Returns the promoted node.
 */
export async function killMasterUntilPromoted(addr: string, timeoutMs = 60_000): Promise<{ promoted: string; ms: number }> {
  const before = await clusterView();
  const master = before.nodes.find((n) => n.addr === addr && n.flags.includes('master'));
  if (!master) throw new Error(`${addr} is not a master of the Redis Cluster`);
  const replicaIds = before.nodes.filter((n) => n.masterId === master.id).map((n) => n.id);
  if (replicaIds.length === 0) throw new Error(`master ${addr} has no replica to promote`);
  const t0 = Date.now();
  await servicesScript(['kill', `redis-cluster:${addr.split(':')[1]}`], 30_000);
  while (Date.now() - t0 < timeoutMs) {
    const view = await clusterView(addr);
    const promoted = view.nodes.find((n) => replicaIds.includes(n.id) && n.flags.includes('master') && n.slots.length > 0);
    if (promoted && view.ok) return { promoted: promoted.addr, ms: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`no replica of ${addr} was promoted within ${timeoutMs} ms`);
}

/** Restarts every node that is down and waits until each master has a replica in sync again. */
export async function rejoinNodes(): Promise<number> {
  const t0 = Date.now();
  await servicesScript(['start', 'redis-cluster'], 180_000);
  return Date.now() - t0;
}
