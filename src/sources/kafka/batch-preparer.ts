// Runs the source's prepare hook (the registry decoder fetching unknown schema ids) over a fetched
// batch before any of it is emitted: in slices of records, heartbeating while each slice runs and
// between slices, and retrying with backoff while it fails retriably (registry away) — so neither a
// flood of unknown ids nor a registry outage silences the member and costs a rebalance.
import { ChurnflowError, errorMessage } from '../../errors.js';
import type { RawRecord } from '../../events/activity-event.js';
import type { Logger } from '../../observability/logger.js';
import { sleepHeartbeating, whileHeartbeating, type Heartbeats } from './heartbeats.js';

export interface PrepareBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
}

export const DEFAULT_PREPARE_BACKOFF: PrepareBackoff = Object.freeze({ initialMs: 250, maxMs: 10_000 });

/** Records per prepare() call: bounds how long one call can run between two slice boundaries. */
export const PREPARE_SLICE = 500;

export interface PrepareContext {
  readonly heartbeats: Heartbeats;
  /** True once the batch must be given up (stopping, partition revoked). */
  readonly abandoned: () => boolean;
  readonly log: Logger;
  readonly backoff?: PrepareBackoff;
  readonly sliceSize?: number;
}

/**
 * Resolves true when every record was prepared, false when the batch was abandoned meanwhile (nothing
 * of it is emitted, so nothing committed: it is redelivered). A non-retriable failure (e.g. the
 * registry refusing our credentials) is thrown: retrying cannot fix it, and the consumer crashes loudly.
 */
export async function prepareBatch(records: readonly RawRecord[], prepare: (records: readonly RawRecord[]) => Promise<void>, ctx: PrepareContext): Promise<boolean> {
  const size = ctx.sliceSize ?? PREPARE_SLICE;
  const backoff = ctx.backoff ?? DEFAULT_PREPARE_BACKOFF;
  for (let start = 0; start < records.length; start += size) {
    const slice = records.slice(start, start + size);
    for (let attempt = 1; ; attempt++) {
      if (ctx.abandoned()) return false;
      try {
        await whileHeartbeating(prepare(slice), ctx.heartbeats);
        break;
      } catch (err) {
        if (err instanceof ChurnflowError && !err.retriable) throw err;
        ctx.log.warn({ err: errorMessage(err), attempt }, 'preparing a batch failed (schema registry?); retrying');
        const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.min(attempt - 1, 16));
        if (!(await sleepHeartbeating(delay, ctx.heartbeats, ctx.abandoned))) return false;
      }
    }
    await ctx.heartbeats.heartbeat().catch(() => {});
  }
  return !ctx.abandoned();
}
