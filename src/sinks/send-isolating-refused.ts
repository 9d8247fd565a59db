// Finds the records a broker refuses for what they are (size, shape) without giving up the rest of
// the batch: a bisection costs O(k log n) sends for k refused records among n.
import { recordErrorType } from './kafka-errors.js';

/**
 * Sends the messages; when the broker refuses them for a record-level reason, halves the batch until
 * the refused records are alone. Returns their indexes (offset by `base`); any other error is thrown.
 * Halves already acknowledged before a refusal may be written twice: outputs carry deterministic ids.
 */
export async function sendIsolatingRefused<M>(send: (batch: M[]) => Promise<void>, messages: M[], base: number, onRefused: (err: unknown) => void): Promise<number[]> {
  try {
    await send(messages);
    return [];
  } catch (err) {
    if (recordErrorType(err) === null) throw err;
    if (messages.length === 1) {
      onRefused(err);
      return [base];
    }
    const mid = messages.length >>> 1;
    const left = await sendIsolatingRefused(send, messages.slice(0, mid), base, onRefused);
    const right = await sendIsolatingRefused(send, messages.slice(mid), base + mid, onRefused);
    return [...left, ...right];
  }
}
