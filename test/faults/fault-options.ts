// Options of the fault-injection run: the full size of `npm run test:faults`, the small one that
// `npm run test:all` runs, and flag/env overrides (flags win over env, env over the size's defaults).
import { parseArgs } from 'node:util';

export interface FaultCounts {
  readonly kills: number;
  readonly sigterms: number;
  readonly redisRestarts: number;
  readonly brokerRestarts: number;
  /** Each: a second engine joins the group and later leaves it (SIGTERM). */
  readonly rebalances: number;
  /** Redis Cluster master failovers: kill -9 a master, its replica takes over, the node rejoins as a replica (store 'cluster' only). */
  readonly failovers: number;
}

/** Where the engines keep their state: the standalone Redis service, or the redis-cluster service. */
export type FaultStore = 'redis' | 'cluster';

export interface FaultOptions extends FaultCounts {
  readonly store: FaultStore;
  /** Cluster: the engines' state.redis.cluster.waitReplicas (0 shows what a failover does without WAIT). */
  readonly waitReplicas: number;
  /** At least this many simulated events (customers are added until the simulation reaches it). */
  readonly events: number;
  readonly partitions: number;
  /** Seeds the fault schedule and the simulated data: the same seed replays the same run plan. */
  readonly seed: number;
  /** The whole run (produce, reference, fault run, comparison) must end within this. */
  readonly timeoutMs: number;
  /** A run whose committed offsets do not move for this long fails (engine stuck). */
  readonly stallMs: number;
  /**
   * The fault run's copy of the stream is produced live over this long (ms) while the faults hit it,
   * so they land mid-stream however quick the machine; 0 produces it at once.
   */
  readonly paceMs: number;
  /** Keep the run's topics and Redis keys for inspection (by default they are deleted after the comparison). */
  readonly keep: boolean;
}

const SIZES = {
  full: { store: 'redis', events: 300_000, partitions: 3, kills: 20, sigterms: 3, redisRestarts: 2, brokerRestarts: 2, rebalances: 2, failovers: 0, waitReplicas: 1, timeoutMs: 90 * 60_000, stallMs: 180_000, paceMs: 180_000, keep: false },
  small: { store: 'redis', events: 50_000, partitions: 3, kills: 5, sigterms: 1, redisRestarts: 1, brokerRestarts: 1, rebalances: 1, failovers: 0, waitReplicas: 1, timeoutMs: 20 * 60_000, stallMs: 180_000, paceMs: 90_000, keep: false },
} as const;

export type FaultSize = keyof typeof SIZES;

const NUMERIC = {
  events: { env: 'CHURNFLOW_FAULTS_EVENTS', min: 1, max: 100_000_000 },
  partitions: { env: 'CHURNFLOW_FAULTS_PARTITIONS', min: 1, max: 1000 },
  kills: { env: 'CHURNFLOW_FAULTS_KILLS', min: 0, max: 1000 },
  sigterms: { env: 'CHURNFLOW_FAULTS_SIGTERMS', min: 0, max: 1000 },
  'redis-restarts': { env: 'CHURNFLOW_FAULTS_REDIS_RESTARTS', min: 0, max: 100 },
  'broker-restarts': { env: 'CHURNFLOW_FAULTS_BROKER_RESTARTS', min: 0, max: 100 },
  rebalances: { env: 'CHURNFLOW_FAULTS_REBALANCES', min: 0, max: 100 },
  failovers: { env: 'CHURNFLOW_FAULTS_FAILOVERS', min: 0, max: 100 },
  'wait-replicas': { env: 'CHURNFLOW_FAULTS_WAIT_REPLICAS', min: 0, max: 16 },
  seed: { env: 'CHURNFLOW_FAULTS_SEED', min: 0, max: 2 ** 31 - 1 },
  'timeout-min': { env: 'CHURNFLOW_FAULTS_TIMEOUT_MIN', min: 1, max: 24 * 60 },
  'pace-s': { env: 'CHURNFLOW_FAULTS_PACE_S', min: 0, max: 24 * 3600 },
} as const;

type NumericKey = keyof typeof NUMERIC;

function numberOption(key: NumericKey, raw: string | undefined, source: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const { min, max } = NUMERIC[key];
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${source} must be an integer in [${min}, ${max}], got '${raw}'`);
  return n;
}

/**
 * A size's defaults with overrides; a fresh random seed unless one is given (it is printed, so a run can
 * be replayed). Failovers need the cluster; the standalone Redis restart has no meaning on it.
 */
export function faultOptions(size: FaultSize, over: Partial<FaultOptions> = {}): FaultOptions {
  const options: FaultOptions = Object.freeze({ ...SIZES[size], seed: Math.floor(Math.random() * 2 ** 31), ...over });
  if (options.store === 'redis' && options.failovers > 0) throw new Error(`--failovers needs --store cluster (the standalone Redis has no replica to fail over to), got ${options.failovers} failovers on --store redis`);
  if (options.store === 'cluster' && options.redisRestarts > 0) throw new Error(`--redis-restarts restarts the standalone Redis; with --store cluster use --failovers (and --redis-restarts 0), got ${options.redisRestarts}`);
  return options;
}

/** `--small`, `--keep`, `--store redis|cluster`, `--failovers N`, `--wait-replicas N`, `--events N`, `--partitions N`, `--kills N`, `--sigterms N`, `--redis-restarts N`, `--broker-restarts N`, `--rebalances N`, `--seed N`, `--timeout-min N`, `--pace-s N`, or the CHURNFLOW_FAULTS_* env. */
export function parseFaultOptions(argv: readonly string[], env: NodeJS.ProcessEnv): FaultOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      small: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      store: { type: 'string' },
      ...Object.fromEntries(Object.keys(NUMERIC).map((k) => [k, { type: 'string' as const }])),
    },
  });
  const size: FaultSize = values.small === true || env['CHURNFLOW_FAULTS_SIZE'] === 'small' ? 'small' : 'full';
  const pick = (key: NumericKey): number | undefined => {
    const flag = (values as Record<string, string | boolean | undefined>)[key];
    return typeof flag === 'string' ? numberOption(key, flag, `--${key}`) : numberOption(key, env[NUMERIC[key].env], NUMERIC[key].env);
  };
  const over: { -readonly [K in keyof FaultOptions]?: FaultOptions[K] } = {};
  if (values.keep === true || env['CHURNFLOW_FAULTS_KEEP'] === '1') over.keep = true;
  const store = typeof values.store === 'string' ? values.store : env['CHURNFLOW_FAULTS_STORE'];
  if (store !== undefined && store !== '') {
    if (store !== 'redis' && store !== 'cluster') throw new Error(`${typeof values.store === 'string' ? '--store' : 'CHURNFLOW_FAULTS_STORE'} must be redis or cluster, got '${store}'`);
    over.store = store;
  }
  const set = (name: Exclude<keyof FaultOptions, 'keep' | 'store'>, v: number | undefined) => {
    if (v !== undefined) over[name] = v;
  };
  set('events', pick('events'));
  set('partitions', pick('partitions'));
  set('kills', pick('kills'));
  set('sigterms', pick('sigterms'));
  set('redisRestarts', pick('redis-restarts'));
  set('brokerRestarts', pick('broker-restarts'));
  set('rebalances', pick('rebalances'));
  set('failovers', pick('failovers'));
  set('waitReplicas', pick('wait-replicas'));
  set('seed', pick('seed'));
  const minutes = pick('timeout-min');
  if (minutes !== undefined) set('timeoutMs', minutes * 60_000);
  const pace = pick('pace-s');
  if (pace !== undefined) set('paceMs', pace * 1000);
  return faultOptions(size, over);
}
