// Carries out one planned fault against the running engines or the services, and says what it did.
import { clusterMasters, killMasterUntilPromoted, rejoinNodes } from '../helpers/cluster-failover.js';
import { servicesScript } from '../helpers/services.js';
import type { EngineFleet } from './engine-fleet.js';
import type { FaultKind } from './fault-schedule.js';

export interface FaultOutcome {
  readonly description: string;
  /** Something a correct engine would not do (a SIGTERM that did not exit 0, a stop that had to be forced). */
  readonly anomaly?: string;
}

/** `ordinal`: the fault's place in the plan (a failover picks the master by it, so the masters take turns). */
export async function applyFault(kind: FaultKind, fleet: EngineFleet, ordinal = 0): Promise<FaultOutcome> {
  switch (kind) {
    case 'kill': {
      const pid = fleet.mainPid;
      await fleet.killMain();
      fleet.startMain();
      return { description: `kill -9 main (pid ${pid}), restarted` };
    }
    case 'sigterm': {
      const pid = fleet.mainPid;
      const { code, ms } = await fleet.sigterm('main');
      fleet.startMain();
      const description = `SIGTERM main (pid ${pid}): exit ${code} after ${(ms / 1000).toFixed(1)} s, restarted`;
      return code === 0 ? { description } : { description, anomaly: description };
    }
    case 'redis-restart': {
      const t0 = Date.now();
      await servicesScript(['restart', 'redis', '--aof']);
      return { description: `redis restarted (AOF) in ${((Date.now() - t0) / 1000).toFixed(1)} s` };
    }
    case 'broker-restart': {
      const t0 = Date.now();
      await servicesScript(['restart', 'kafka']);
      return { description: `kafka broker restarted in ${((Date.now() - t0) / 1000).toFixed(1)} s` };
    }
    case 'cluster-failover': {
      // Only after the promotion is the node restarted: back any sooner, it would resume as master.
      // Until then the promoted master has no replica, WAIT falls short and the engine retries.
      const masters = await clusterMasters();
      const victim = masters[ordinal % masters.length]!;
      const { promoted, ms } = await killMasterUntilPromoted(victim);
      const rejoinMs = await rejoinNodes();
      return { description: `Redis Cluster master ${victim} killed (SIGKILL): replica ${promoted} promoted after ${(ms / 1000).toFixed(1)} s, ${victim} back as its replica after ${(rejoinMs / 1000).toFixed(1)} s more` };
    }
    case 'join':
      fleet.startSecond();
      return { description: 'a second engine joins the group (rebalance)' };
    case 'leave': {
      if (!fleet.hasSecond) return { description: 'leave: the second engine is no longer running', anomaly: 'the second engine exited before its planned leave' };
      const { code, ms } = await fleet.sigterm('second');
      const description = `the second engine leaves (SIGTERM): exit ${code} after ${(ms / 1000).toFixed(1)} s (rebalance)`;
      return code === 0 ? { description } : { description, anomaly: description };
    }
  }
}
