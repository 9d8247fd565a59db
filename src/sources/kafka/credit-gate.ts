// Flow control inside eachBatch: a record is emitted only with a credit. Out of credits, the consumer
// pauses fetching and waits — heartbeating in slices — until downstream returns one, or gives the rest
// of the batch up when it is stopping or the partition moved (unemitted → uncommitted → redelivered).
import type { FlowControl } from '../flow-control.js';
import { realSleep, type Heartbeats } from './heartbeats.js';

export interface CreditGateContext {
  readonly heartbeats: Heartbeats;
  readonly abandoned: () => boolean;
  /** Stop / restart fetching of every assigned partition. */
  readonly pause: () => void;
  readonly resume: () => void;
}

/** Resolves true with a credit taken, false when the batch was abandoned while waiting (no credit kept). */
export async function acquireCredit(flow: FlowControl, ctx: CreditGateContext): Promise<boolean> {
  if (flow.tryAcquire()) return true;
  ctx.pause();
  const sleep = ctx.heartbeats.sleep ?? realSleep;
  let granted = false;
  let gaveUp = false;
  const wake = new AbortController();
  void flow.acquire().then(() => {
    granted = true;
    wake.abort();
    if (gaveUp) flow.release(1); // nobody will use this credit any more
  });
  try {
    // Heartbeat-sized slices: a stop or a rebalance is noticed while the credit is pending.
    while (!granted) {
      await sleep(ctx.heartbeats.intervalMs, wake.signal);
      if (granted) break;
      await ctx.heartbeats.heartbeat().catch(() => {});
      if (ctx.abandoned()) {
        gaveUp = true;
        return false;
      }
    }
    return true;
  } finally {
    // Paused partitions stay paused across a rebalance: resume either way, or the consumer stalls.
    ctx.resume();
  }
}
