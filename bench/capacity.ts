// Prints the capacity plan (docs/capacity.md) from the figures in bench/results/*.json:
//   npm run capacity                                  10M and 100M customers, default assumptions
//   npm run capacity -- --customers 25000000 --events-per-customer-day 12 --peak-factor 4
// Refresh the figures first with the benches it names (redis-state, kafka-e2e; pipeline-throughput for
// comparison). A missing or outdated results file is named with the bench that writes it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { capacityTable, DEFAULT_ASSUMPTIONS, planCapacity, type CapacityAssumptions, type FigureSource, type MeasuredFigures } from './capacity-plan.js';

type Results = Record<string, unknown>;

function readResults(dir: string, bench: string, required: readonly string[]): Results {
  let parsed: Results;
  try {
    parsed = JSON.parse(readFileSync(`${dir}/${bench}.json`, 'utf8')) as Results;
  } catch (err) {
    throw new Error(`no figures from ${bench} in ${dir} (${(err as Error).message.split('\n')[0]}): run \`npm run bench -- ${bench}\` first`);
  }
  const missing = required.filter((k) => typeof parsed[k] !== 'number' || !Number.isFinite(parsed[k]));
  if (missing.length > 0) throw new Error(`${dir}/${bench}.json lacks ${missing.join(', ')} (written by an older bench): run \`npm run bench -- ${bench}\` again`);
  return parsed;
}

function sourceOf(r: Results): FigureSource {
  return {
    bench: String(r.bench),
    measuredAt: typeof r.measured_at === 'string' ? r.measured_at : 'unknown date',
    machine: typeof r.machine === 'string' ? r.machine : 'machine not recorded',
    loadAvg1m: typeof r.load_avg_1m === 'number' ? r.load_avg_1m : null,
  };
}

function loadFigures(dir: string): MeasuredFigures {
  const redis = readResults(dir, 'redis-state', ['bytes_per_customer_tenured_mean', 'bytes_per_customer_mean', 'used_memory_per_customer', 'redis_usec_per_customer_write', 'events', 'customers', 'days']);
  const e2e = readResults(dir, 'kafka-e2e', ['full_events_per_cpu_second', 'full_events_per_s']);
  let embedded: MeasuredFigures['embedded'];
  try {
    const p = readResults(dir, 'pipeline-throughput', ['full_events_per_s']);
    embedded = { source: sourceOf(p), eventsPerSecond: p.full_events_per_s as number };
  } catch {
    embedded = undefined; // only a comparison line
  }
  return {
    redis: {
      source: sourceOf(redis),
      bytesPerTenuredCustomer: redis.bytes_per_customer_tenured_mean as number,
      bytesPerCustomerMean: redis.bytes_per_customer_mean as number,
      usedMemoryPerCustomer: redis.used_memory_per_customer as number,
      usecPerCustomerWrite: redis.redis_usec_per_customer_write as number,
      simulatedEventsPerCustomerDay: (redis.events as number) / (redis.customers as number) / (redis.days as number),
    },
    instance: { source: sourceOf(e2e), eventsPerCpuSecond: e2e.full_events_per_cpu_second as number, eventsPerSecondWall: e2e.full_events_per_s as number },
    embedded,
  };
}

const positive = (name: string, raw: string | undefined, fallback: number): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got '${raw}'`);
  return n;
};

function main(argv: readonly string[]): void {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      customers: { type: 'string', default: '10000000,100000000' },
      'events-per-customer-day': { type: 'string' },
      'peak-factor': { type: 'string' },
      results: { type: 'string', default: fileURLToPath(new URL('../../bench/results', import.meta.url)) },
    },
    strict: true,
  });
  const assumptions: CapacityAssumptions = {
    ...DEFAULT_ASSUMPTIONS,
    eventsPerCustomerDay: positive('events-per-customer-day', values['events-per-customer-day'], DEFAULT_ASSUMPTIONS.eventsPerCustomerDay),
    peakFactor: positive('peak-factor', values['peak-factor'], DEFAULT_ASSUMPTIONS.peakFactor),
  };
  const counts = values.customers.split(',').map((c) => positive('customers', c.trim(), 0));
  const figures = loadFigures(values.results);
  console.log(capacityTable(counts.map((n) => planCapacity(n, figures, assumptions))));
  if (figures.embedded) {
    console.log(`\nFor comparison, the embedded pipeline (no broker, memory state) runs ${Math.round(figures.embedded.eventsPerSecond).toLocaleString('en-US')} events/s on one core (\`npm run bench -- pipeline-throughput\`, ${figures.embedded.source.measuredAt.slice(0, 10)}).`);
  }
}

try {
  main(process.argv.slice(2));
} catch (err) {
  console.error(`capacity: ${(err as Error).message}`);
  process.exit(2);
}
