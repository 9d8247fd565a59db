// Capacity math for a customer count, from figures the benches measured (bench/results/*.json) and
// stated assumptions. Pure: every line of the plan says which figure or assumption it comes from, so
// docs/capacity.md can be regenerated (`npm run capacity`) whenever a bench moves a figure.

/** Where a measured figure comes from. */
export interface FigureSource {
  readonly bench: string;
  readonly measuredAt: string;
  readonly machine: string;
  readonly loadAvg1m: number | null;
}

export interface MeasuredFigures {
  readonly redis: {
    readonly source: FigureSource;
    /** MEMORY USAGE of a customer present for the whole simulated period, as the engine leaves it (windows, last score, recent ids, outbox). */
    readonly bytesPerTenuredCustomer: number;
    /** MEMORY USAGE mean over all simulated customers. */
    readonly bytesPerCustomerMean: number;
    /** used_memory freed per customer when the engine's keys are deleted (the same customers as the mean above). */
    readonly usedMemoryPerCustomer: number;
    /** Redis time (µs) for one customer's HGETALL + EVALSHA commit. */
    readonly usecPerCustomerWrite: number;
    /** The simulator's own event rate in that bench (events per customer per day). */
    readonly simulatedEventsPerCustomerDay: number;
  };
  /**
   * One engine instance on the production path (Kafka → registry → Redis → ONNX → Kafka): events per
   * CPU-second of the engine's process (what a core given to it sustains, whatever else shares the
   * machine), and the wall-clock rate seen on the bench machine.
   */
  readonly instance: { readonly source: FigureSource; readonly eventsPerCpuSecond: number; readonly eventsPerSecondWall: number };
  /** The embedded pipeline (no broker, memory state), for comparison: what the engine's own code does on one core. */
  readonly embedded?: { readonly source: FigureSource; readonly eventsPerSecond: number } | undefined;
}

export interface CapacityAssumptions {
  /** Mean events per customer per day at the planned service. */
  readonly eventsPerCustomerDay: number;
  /** Peak hour over the daily mean. */
  readonly peakFactor: number;
  /** Cores one instance is given (the Kubernetes cpu request). */
  readonly coresPerInstance: number;
  /** Share of an instance's measured throughput planned for at peak. */
  readonly instanceUtilisation: number;
  /** Partitions per planned instance at peak, so the group can grow without repartitioning (which moves customers between partitions). */
  readonly partitionsPerInstance: number;
  /** RSS over used_memory (allocator fragmentation). */
  readonly fragmentation: number;
  /** A shard's maxmemory (used_memory it may reach). */
  readonly shardMaxBytes: number;
  /** Share of maxmemory the planned dataset fills, leaving room for growth and bursts of outbox entries. */
  readonly shardFill: number;
  /** Host RAM over a shard's RSS, for the copy-on-write of an AOF rewrite or snapshot fork. */
  readonly forkHeadroom: number;
  /** Replicas per shard. */
  readonly replicas: number;
  /** Share of a shard's single thread planned for the engine's commands at peak. */
  readonly shardCpuUtilisation: number;
}

export const DEFAULT_ASSUMPTIONS: CapacityAssumptions = Object.freeze({
  eventsPerCustomerDay: 30,
  peakFactor: 5,
  coresPerInstance: 1,
  instanceUtilisation: 0.7,
  partitionsPerInstance: 2,
  fragmentation: 1.2,
  shardMaxBytes: 25e9,
  shardFill: 0.8,
  forkHeadroom: 1.5,
  replicas: 1,
  shardCpuUtilisation: 0.5,
});

/** Partition counts with many divisors, so instances share them evenly. */
const PARTITION_STEPS = [12, 24, 48, 96, 192, 384, 768, 1536];

export interface PlanLine {
  readonly quantity: string;
  readonly value: string;
  readonly from: string;
}

export interface CapacityPlan {
  readonly customers: number;
  readonly averageEventsPerSecond: number;
  readonly peakEventsPerSecond: number;
  readonly instanceEventsPerSecond: number;
  readonly instances: number;
  readonly partitions: number;
  readonly usedMemoryBytes: number;
  readonly rssBytes: number;
  readonly shardsForMemory: number;
  readonly shardsForThroughput: number;
  readonly shards: number;
  readonly hostRamBytesWithReplicas: number;
  readonly lines: readonly PlanLine[];
}

export function cite(s: FigureSource): string {
  const load = s.loadAvg1m === null ? '' : `, load ${s.loadAvg1m}`;
  return `\`npm run bench -- ${s.bench}\`, ${s.measuredAt.slice(0, 10)}, ${s.machine}${load}`;
}

const gb = (bytes: number) => (bytes < 10e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e9).toLocaleString('en-US')} GB`);
const num = (n: number) => Math.round(n).toLocaleString('en-US');

export function planCapacity(customers: number, m: MeasuredFigures, a: CapacityAssumptions = DEFAULT_ASSUMPTIONS): CapacityPlan {
  if (!(customers > 0)) throw new RangeError(`customers must be positive, got ${customers}`);
  const averageEventsPerSecond = (customers * a.eventsPerCustomerDay) / 86_400;
  const peakEventsPerSecond = averageEventsPerSecond * a.peakFactor;
  // Two at least: one instance is a single point of failure whatever the load.
  const instanceEventsPerSecond = m.instance.eventsPerCpuSecond * a.coresPerInstance;
  const instances = Math.max(2, Math.ceil(peakEventsPerSecond / (instanceEventsPerSecond * a.instanceUtilisation)));
  const wantedPartitions = instances * a.partitionsPerInstance;
  const partitions = PARTITION_STEPS.find((p) => p >= wantedPartitions) ?? wantedPartitions;

  // MEMORY USAGE leaves out the main dict entry and allocator rounding; the used_memory drop measures
  // them for the same customers, and that difference is added to the long-lived customer's size.
  const overheadPerKey = Math.max(0, m.redis.usedMemoryPerCustomer - m.redis.bytesPerCustomerMean);
  const perCustomer = m.redis.bytesPerTenuredCustomer + overheadPerKey;
  const usedMemoryBytes = customers * perCustomer;
  const rssBytes = usedMemoryBytes * a.fragmentation;
  const shardsForMemory = Math.ceil(usedMemoryBytes / (a.shardMaxBytes * a.shardFill));
  // Upper bound: with millions of customers a micro-batch rarely holds one customer twice, so every event is one write.
  const writesPerShardSecond = (1e6 / m.redis.usecPerCustomerWrite) * a.shardCpuUtilisation;
  const shardsForThroughput = Math.ceil(peakEventsPerSecond / writesPerShardSecond);
  const shards = Math.max(shardsForMemory, shardsForThroughput);
  const perShardRss = (usedMemoryBytes / shards) * a.fragmentation;
  const hostRamBytesWithReplicas = perShardRss * a.forkHeadroom * shards * (1 + a.replicas);

  const redisSrc = cite(m.redis.source);
  const lines: PlanLine[] = [
    { quantity: 'events/s, daily mean', value: num(averageEventsPerSecond), from: `assumption: ${a.eventsPerCustomerDay} events per customer per day (the simulator produces ${m.redis.simulatedEventsPerCustomerDay.toFixed(1)})` },
    { quantity: 'events/s, peak', value: num(peakEventsPerSecond), from: `assumption: peak hour = ${a.peakFactor}× the daily mean` },
    {
      quantity: 'events/s one instance sustains',
      value: num(instanceEventsPerSecond),
      from: `measured, production path: ${num(m.instance.eventsPerCpuSecond)} events per CPU-second of the engine process × ${a.coresPerInstance} core${a.coresPerInstance === 1 ? '' : 's'} per instance (wall clock on the shared bench machine: ${num(m.instance.eventsPerSecondWall)}/s); ${cite(m.instance.source)}`,
    },
    { quantity: 'engine instances at peak', value: String(instances), from: `peak ÷ (events/s per instance × ${a.instanceUtilisation} utilisation), at least 2` },
    { quantity: 'partitions of the activity topic', value: String(partitions), from: `≥ ${a.partitionsPerInstance} per instance at peak, next of ${PARTITION_STEPS.slice(0, 6).join('/')}… (a consumer group runs at most one member per partition)` },
    { quantity: 'Redis bytes per customer (MEMORY USAGE)', value: num(m.redis.bytesPerTenuredCustomer), from: `measured, customer present all simulated days, engine path: ${redisSrc}` },
    { quantity: 'Redis per-key overhead beyond MEMORY USAGE', value: `${num(overheadPerKey)} B`, from: `measured: used_memory drop per deleted customer (${num(m.redis.usedMemoryPerCustomer)} B) − mean MEMORY USAGE (${num(m.redis.bytesPerCustomerMean)} B), same bench` },
    { quantity: 'Redis used_memory (dataset)', value: gb(usedMemoryBytes), from: `customers × ${num(perCustomer)} B` },
    { quantity: 'Redis RSS', value: gb(rssBytes), from: `assumption: fragmentation ${a.fragmentation}×` },
    { quantity: 'shards for memory', value: String(shardsForMemory), from: `used_memory ÷ (${gb(a.shardMaxBytes)} maxmemory per shard × ${a.shardFill} fill)` },
    { quantity: 'shards for peak writes', value: String(shardsForThroughput), from: `peak events/s ÷ (10⁶ ÷ ${m.redis.usecPerCustomerWrite.toFixed(1)} µs per customer write, measured: ${redisSrc}; × ${a.shardCpuUtilisation} of the thread)` },
    { quantity: 'Redis Cluster shards (masters)', value: String(shards), from: 'the larger of the two' },
    { quantity: 'Redis host RAM, all shards and replicas', value: gb(hostRamBytesWithReplicas), from: `RSS per shard × ${a.forkHeadroom} (fork headroom) × ${shards} shards × ${1 + a.replicas} (${a.replicas} replica${a.replicas === 1 ? '' : 's'} each)` },
  ];
  return { customers, averageEventsPerSecond, peakEventsPerSecond, instanceEventsPerSecond, instances, partitions, usedMemoryBytes, rssBytes, shardsForMemory, shardsForThroughput, shards, hostRamBytesWithReplicas, lines };
}

/** The plans as one Markdown table: a row per quantity, a column per customer count, then where each line comes from. */
export function capacityTable(plans: readonly CapacityPlan[]): string {
  if (plans.length === 0) return '';
  const head = `| quantity | ${plans.map((p) => `${p.customers >= 1e6 ? `${p.customers / 1e6}M` : num(p.customers)} customers`).join(' | ')} | from |`;
  const rule = `|---|${plans.map(() => '---:').join('|')}|---|`;
  const rows = plans[0]!.lines.map((line, i) => `| ${line.quantity} | ${plans.map((p) => p.lines[i]!.value).join(' | ')} | ${line.from} |`);
  return [head, rule, ...rows].join('\n');
}
