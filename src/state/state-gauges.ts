// The state gauges (churnflow_state_customers, churnflow_state_bytes_per_customer), set from the store's
// own figures: the memory store counts its customers and the bytes of their binary encoding (the form
// the Redis store writes; an evenly spread sample of statsSampleSize, extrapolated); the Redis store counts the keys under its prefix (one SCAN pass) and
// measures MEMORY USAGE of a bounded sample of them (statsSampleSize, default 1000), extrapolated.
// Both figures are store-wide, so every instance of a fleet reports the same (dashboards take max, not sum).
import type { Gauge } from 'prom-client';
import type { StoreStats } from './state-store.js';

export interface StateGauges {
  readonly stateCustomers: Pick<Gauge, 'set'>;
  readonly stateBytesPerCustomer: Pick<Gauge, 'set'>;
}

/** Reads the store's figures once and sets the gauges from them. */
export async function refreshStateGauges(stats: () => Promise<StoreStats>, gauges: StateGauges): Promise<StoreStats> {
  const s = await stats();
  gauges.stateCustomers.set(s.customers);
  gauges.stateBytesPerCustomer.set(s.customers > 0 ? s.bytes / s.customers : 0);
  return s;
}

export interface StateGaugeWatch {
  stop(): void;
}

/**
 * Refreshes the gauges every intervalMs (first after firstAfterMs), one refresh at a time: a Redis
 * SCAN slower than the interval skips the next tick instead of piling up. Errors are reported (but not
 * those of a refresh the stop overtook) and the gauges keep their last values. The timers never keep the process alive.
 */
export function watchStateGauges(
  stats: () => Promise<StoreStats>,
  gauges: StateGauges,
  options: { readonly intervalMs: number; readonly firstAfterMs?: number; readonly onError?: (err: unknown) => void },
): StateGaugeWatch {
  let running = false;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = true;
    refreshStateGauges(stats, gauges)
      // A refresh still running at stop() fails as the store closes under it (Redis: "Connection is
      // closed"); that is the shutdown, not a store problem, and is not reported.
      .catch((err: unknown) => {
        if (!stopped) options.onError?.(err);
      })
      .finally(() => {
        running = false;
      });
  };
  const first = setTimeout(tick, options.firstAfterMs ?? Math.min(5_000, options.intervalMs));
  const every = setInterval(tick, options.intervalMs);
  first.unref();
  every.unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(first);
      clearInterval(every);
    },
  };
}

/** Refresh interval per store: the memory store's figures are in-process; Redis' cost a SCAN of the keyspace. */
export function stateGaugeIntervalMs(kind: 'memory' | 'redis'): number {
  return kind === 'memory' ? 15_000 : 300_000;
}
