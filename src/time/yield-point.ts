// Long synchronous stretches (a batch's feature rows, its TreeSHAP reasons) would keep the event loop
// from answering /healthz and from heartbeating Kafka. A yield point lets the loop run once the
// current stretch has lasted `sliceMs`: call it between units of work and await what it returns.
import { setImmediate as nextTurn } from 'node:timers/promises';

export type YieldPoint = () => Promise<void> | undefined;

export function createYieldPoint(sliceMs = 10): YieldPoint {
  let since = performance.now();
  return () => {
    const now = performance.now();
    if (now - since < sliceMs) return undefined;
    return nextTurn().then(() => {
      since = performance.now();
    });
  };
}
