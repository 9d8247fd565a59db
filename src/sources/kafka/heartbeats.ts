// Waiting inside kafkajs' eachBatch without losing the group: every wait (a backoff, a registry
// lookup, a credit) runs in slices no longer than the heartbeat interval, with a heartbeat after each,
// so the coordinator never sees a silent member while the batch is held.

/** What a wait needs from the consumer: its heartbeat and the interval it must keep. */
export interface Heartbeats {
  heartbeat(): Promise<void>;
  readonly intervalMs: number;
  /** The timer (tests pass a fake one); resolves after ms, or early when the signal aborts. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export function realSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** A heartbeat failure (rebalance under way, not running) is the batch loop's business, not the wait's. */
async function beat(hb: Heartbeats): Promise<void> {
  await hb.heartbeat().catch(() => {});
}

/** The abort reason when the awaited work settles: abort() without one builds a DOMException, stack trace included. */
const SETTLED = Symbol('settled');

/** Awaits `work`, heartbeating every intervalMs until it settles; returns (or throws) what it does. */
export async function whileHeartbeating<T>(work: Promise<T>, hb: Heartbeats): Promise<T> {
  let settled = false;
  let stop: AbortController | undefined;
  const watched = work.finally(() => {
    settled = true;
    stop?.abort(SETTLED);
  });
  watched.catch(() => {}); // observed below; keeps an early rejection from being "unhandled"
  // Most waits are on work settled long before (every fetched batch waits for its partition's
  // assignment, known since the join): its finally above runs in the microtask queued before this
  // await resumes, and the wait ends with no timer and no AbortController. Armed for every batch,
  // they were ≈4 % of the main thread under live traffic (an AbortController, a timer, listeners and
  // the DOMException of abort() per wait, two waits per fetched partition).
  await undefined;
  if (!settled) {
    const sleep = hb.sleep ?? realSleep;
    stop = new AbortController();
    while (!settled) {
      await sleep(hb.intervalMs, stop.signal);
      if (!settled) await beat(hb);
    }
  }
  return watched;
}

/** Sleeps ms in slices of at most intervalMs, heartbeating after each; returns false as soon as shouldStop() (early exit). */
export async function sleepHeartbeating(ms: number, hb: Heartbeats, shouldStop: () => boolean): Promise<boolean> {
  const sleep = hb.sleep ?? realSleep;
  const never = new AbortController().signal;
  for (let left = ms; left > 0; ) {
    if (shouldStop()) return false;
    const slice = Math.min(left, hb.intervalMs);
    await sleep(slice, never);
    left -= slice;
    await beat(hb);
  }
  return !shouldStop();
}
