// Bounded waits on a consumer group's committed offsets, tolerant of a broker that is briefly away.
import { groupProgress } from '../helpers/engine-process.js';

export interface WaitBounds {
  /** Absolute time (ms since epoch) after which the whole run has failed. */
  readonly deadline: number;
  /** Committed offsets unchanged for this long: the engines are stuck. */
  readonly stallMs: number;
  /** Called on every poll: restarts an engine that died by itself. */
  readonly supervise?: () => void;
}

export interface Progress {
  readonly committed: number;
  readonly end: number;
}

/** Resolves when `done(progress)` holds; throws on the deadline or a stall. */
export async function waitForOffsets(groupId: string, topic: string, done: (p: Progress & { readonly caughtUp: boolean }) => boolean, bounds: WaitBounds, what: string): Promise<Progress> {
  let last = -1;
  let lastChange = Date.now();
  let lastError = '';
  for (;;) {
    bounds.supervise?.();
    try {
      const p = await groupProgress(groupId, topic);
      lastError = '';
      if (done(p)) return p;
      if (p.committed !== last) {
        last = p.committed;
        lastChange = Date.now();
      }
    } catch (err) {
      lastError = String(err); // the broker restarting: keep polling, the stall clock decides
    }
    const now = Date.now();
    if (now > bounds.deadline) throw new Error(`run deadline passed while waiting for ${what} (committed ${last})${lastError ? `; last error: ${lastError}` : ''}`);
    if (now - lastChange > bounds.stallMs) throw new Error(`no offset committed for ${Math.round(bounds.stallMs / 1000)} s while waiting for ${what} (committed ${last})${lastError ? `; last error: ${lastError}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
